//! The gRPC example end to end: a tonic server on loopback behind the pipeline, a real tonic
//! client, and a clock that moves only when the test moves it.

use std::net::SocketAddr;
use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{AuditLog, MemoryAuditSink};
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::Deployment;
use memorysync_pipeline::key::ApiKey;
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;

use crate::memories::MemoryService;
use crate::proto::memories_client::MemoriesClient;
use crate::proto::{AddRequest, SearchRequest};

pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) clock: ManualClock,
    pub(crate) service: MemoryService,
    pub(crate) audit: AuditLog,
    pub(crate) audit_lines: MemoryAuditSink,
    pub(crate) bearer: String,
    pub(crate) client: MemoriesClient<Channel>,
}

/// The example's server for one project allowed `adds_per_month`, and one development key
/// allowed `rps` calls per second, on an ephemeral loopback port.
pub(crate) async fn start(adds_per_month: u64, rps: u32) -> Running {
    let key = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_demo\"\nadds_per_month = {adds_per_month}\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"development\"\nrps = {rps}\nrpm = 300\n",
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    let audit_lines = MemoryAuditSink::new();
    let options = crate::app::options()
        .with_clock(clock.clone())
        .with_audit_sink(audit_lines.clone());
    let deployment = Deployment::start(&config, options).await.unwrap();
    let audit = deployment.audit().clone();
    let service = MemoryService::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = service.clone();
    tokio::spawn(async move {
        let forever = std::future::pending();
        crate::app::serve(&deployment, serving, listener, forever)
            .await
            .unwrap();
    });
    let client = MemoriesClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    Running {
        addr,
        clock,
        service,
        audit,
        audit_lines,
        bearer: format!("Bearer {}", key.expose_secret()),
        client,
    }
}

impl Running {
    /// A call with the key and the right project.
    pub(crate) fn authorized<T>(&self, message: T) -> tonic::Request<T> {
        with(
            message,
            &[
                ("authorization", &self.bearer),
                ("x-project-id", "proj_demo"),
            ],
        )
    }

    async fn search(&self, request: tonic::Request<SearchRequest>) -> Result<usize, tonic::Status> {
        let response = self.client.clone().search(request).await?;
        Ok(response.into_inner().results.len())
    }

    /// The audit events written so far.
    /// The audit events of the calls: the start's reconciliation of the config, an event of
    /// its own (method `RECONCILE`), is left out.
    async fn audit_events(&self) -> Vec<Value> {
        self.audit.flush().await;
        let lines = self.audit_lines.lines();
        lines
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|event| event["method"] != "RECONCILE")
            .collect()
    }
}

/// `message` with these metadata entries.
fn with<T>(message: T, metadata: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (name, value) in metadata {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    request
}

fn query(text: &str) -> SearchRequest {
    SearchRequest {
        query: text.to_owned(),
    }
}

/// The call failed with `code`, and the message names the rejection first.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, name: &str) {
    let status = result.expect_err("the call was admitted");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().starts_with(name), "{status:?}");
}

#[tokio::test]
async fn calls_without_a_good_key_are_unauthenticated() {
    let server = start(100, 10).await;
    let anonymous = with(query("rust"), &[("x-project-id", "proj_demo")]);
    assert_refused(
        server.search(anonymous).await,
        Code::Unauthenticated,
        "missing_api_key",
    );

    let stranger = ApiKey::generate(Environment::Development).unwrap();
    let unknown = [
        ("x-api-key", stranger.expose_secret()),
        ("x-project-id", "proj_demo"),
    ];
    let result = server.search(with(query("rust"), &unknown)).await;
    assert_refused(result, Code::Unauthenticated, "invalid_api_key");
    assert_eq!(server.service.calls(), 0);

    let events = server.audit_events().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["outcome"], "unauthenticated");
}

#[tokio::test]
async fn a_call_naming_another_project_is_permission_denied() {
    let server = start(100, 10).await;
    let other = [
        ("authorization", server.bearer.as_str()),
        ("x-project-id", "proj_other"),
    ];
    let result = server.search(with(query("rust"), &other)).await;
    assert_refused(result, Code::PermissionDenied, "project_mismatch");
    assert_eq!(server.service.calls(), 0);
}

#[tokio::test]
async fn a_call_without_a_project_is_invalid_argument() {
    let server = start(100, 10).await;
    let result = server
        .search(with(query("rust"), &[("authorization", &server.bearer)]))
        .await;
    assert_refused(result, Code::InvalidArgument, "missing_project_id");
    assert_eq!(server.service.calls(), 0);
}

#[tokio::test]
async fn calls_past_the_rate_limit_are_resource_exhausted() {
    let server = start(100, 2).await;
    for _ in 0..2 {
        assert_eq!(
            server
                .search(server.authorized(query("rust")))
                .await
                .unwrap(),
            0
        );
    }
    let result = server.search(server.authorized(query("rust"))).await;
    assert_refused(result, Code::ResourceExhausted, "rate_limited");
    assert_eq!(server.service.calls(), 2);

    server.clock.advance(Duration::from_secs(1));
    assert_eq!(
        server
            .search(server.authorized(query("rust")))
            .await
            .unwrap(),
        0
    );
    assert_eq!(server.service.calls(), 3);
}

#[tokio::test]
async fn an_add_past_the_monthly_quota_is_ok_and_empty() {
    let server = start(1, 10).await;
    let mut client = server.client.clone();
    let first = AddRequest {
        text: "Likes Rust".to_owned(),
    };
    let stored = client
        .add(server.authorized(first))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.results[0].text, "Likes Rust");

    let second = AddRequest {
        text: "Likes Go".to_owned(),
    };
    let degraded = client
        .add(server.authorized(second))
        .await
        .unwrap()
        .into_inner();
    assert!(degraded.results.is_empty(), "{degraded:?}");
    assert_eq!(
        server.service.calls(),
        1,
        "a degraded call reached the service"
    );

    // Nothing of the degraded call was stored; queries have a quota of their own.
    assert_eq!(
        server
            .search(server.authorized(query("likes")))
            .await
            .unwrap(),
        1
    );
    let events = server.audit_events().await;
    let outcomes: Vec<_> = events.iter().map(|e| e["outcome"].as_str()).collect();
    assert_eq!(
        outcomes,
        [Some("allowed"), Some("degraded"), Some("allowed")]
    );
    assert_eq!(events[2]["path"], "/memorysync.v1.Memories/Search");
    // The peer of the tonic connection, handed over as `ClientAddr`.
    assert_eq!(events[2]["client_ip"], "127.0.0.1");
}
