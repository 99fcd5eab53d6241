//! The whole pipeline on in-memory stores, and one run of requests that makes every stage decide
//! every way it can: shared by the telemetry tests (`metrics.rs`, `tracing_secrets.rs`), which
//! watch the same run through a metrics recorder and a tracing subscriber.
#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::AuditLog;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::key::ApiKey;
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt, service_fn};

pub(crate) const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);
pub(crate) const PROJECT: &str = "proj_tele";
pub(crate) const KEY_ID: &str = "key_tele";

/// A development key.
fn new_key() -> ApiKey {
    ApiKey::generate(Environment::Development).unwrap()
}

/// Six stages in the contract's order, from a config, answering with the status alone.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) key: ApiKey,
    pub(crate) revoked: ApiKey,
    pub(crate) expired: ApiKey,
    pub(crate) clock: ManualClock,
    pub(crate) log: AuditLog,
    service: BoxCloneService<Request<String>, StatusCode, Infallible>,
}

impl Stack {
    /// One key of `PROJECT` at 1 request per second, a revoked and an expired key, and a plan of
    /// one add and 100 queries a month. Needs a tokio runtime (the audit writer).
    pub(crate) async fn new() -> Self {
        let clock = ManualClock::new(T0);
        let (key, revoked, expired) = (new_key(), new_key(), new_key());
        let entry = |id: &str, key: &ApiKey, extra: &str| {
            format!(
                "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\n\
                 environment = \"development\"\nrps = 1\nrpm = 100\n{extra}",
                key.hash().to_hex()
            )
        };
        let text = format!(
            "environment = \"development\"\n\
             [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 1\nqueries_per_month = 100\n{}{}{}",
            entry(KEY_ID, &key, ""),
            entry(
                "key_revoked",
                &revoked,
                "revoked_at = \"2023-11-14T22:13:20Z\"\n"
            ),
            entry(
                "key_expired",
                &expired,
                "expires_at = \"2023-11-14T22:13:20Z\"\n"
            ),
        );
        let config = Config::from_toml(&text).unwrap();
        let options = DeploymentOptions::new()
            .with_clock(clock.clone())
            .with_instance("stack");
        let deployment = Deployment::start(&config, options).await.unwrap();
        let log = deployment.audit().clone();
        let inner = service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::from(r#"{"results":[]}"#)))
        });
        let service = ServiceBuilder::new()
            .map_response(status_of)
            .layer(deployment.layer())
            .service(inner);
        Stack {
            key,
            revoked,
            expired,
            clock,
            log,
            service: BoxCloneService::new(service),
        }
    }

    async fn send(&self, method: &str, key: Option<&str>, project: Option<&str>) -> u16 {
        let mut request = Request::builder().method(method).uri("/v1/memories");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if let Some(project) = project {
            request = request.header("x-project-id", project);
        }
        let request = request.body(String::new()).unwrap();
        self.service
            .clone()
            .oneshot(request)
            .await
            .unwrap()
            .as_u16()
    }

    async fn probe(&self) -> u16 {
        let request = Request::get("/health").body(String::new()).unwrap();
        self.service
            .clone()
            .oneshot(request)
            .await
            .unwrap()
            .as_u16()
    }

    /// Every decision: probes (5 answered, 1 refused); an add admitted, then degraded; a query
    /// admitted, then rate-limited; each way auth refuses; each way the scope refuses. The audit
    /// log is flushed at the end.
    pub(crate) async fn run_every_decision(&self) {
        let probes: Vec<u16> = futures_of(6, || self.probe()).await;
        assert_eq!(probes, [200, 200, 200, 200, 200, 429]);
        let (key, ours) = (Some(self.key.expose_secret()), Some(PROJECT));
        assert_eq!(self.send("POST", key, ours).await, 200, "add admitted");
        self.clock.advance(Duration::from_secs(2));
        assert_eq!(self.send("POST", key, ours).await, 200, "add degraded");
        self.clock.advance(Duration::from_secs(2));
        assert_eq!(self.send("GET", key, ours).await, 200, "query admitted");
        assert_eq!(self.send("GET", key, ours).await, 429, "rate-limited");

        let unknown = ApiKey::generate(Environment::Development).unwrap();
        let refused = [
            None,
            Some("msk_test_not-a-key"),
            Some(unknown.expose_secret()),
            Some(self.revoked.expose_secret()),
            Some(self.expired.expose_secret()),
        ];
        for key in refused {
            assert_eq!(self.send("GET", key, ours).await, 401, "{key:?}");
        }
        assert_eq!(self.send("GET", key, None).await, 400, "no project");
        assert_eq!(self.send("GET", key, Some("proj_other")).await, 403);
        self.log.flush().await;
    }
}

fn status_of<B>(response: Response<B>) -> StatusCode {
    response.status()
}

/// `n` calls of `call`, one after the other.
async fn futures_of<F: Future<Output = u16>>(n: usize, call: impl Fn() -> F) -> Vec<u16> {
    let mut answers = Vec::with_capacity(n);
    for _ in 0..n {
        answers.push(call().await);
    }
    answers
}
