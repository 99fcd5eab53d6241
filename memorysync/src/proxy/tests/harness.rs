//! The proxy behind the full pipeline, a `Deployment` of the test's config as `serve` builds
//! it, served by hyper on loopback.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use memorysync_pipeline::audit::{AuditLog, MemoryAuditSink};
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::quota::{Month, Operation};
use memorysync_pipeline::{ClientAddr, Environment};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::proxy::Upstream;
use crate::proxy::client::Roots;

/// The month every test runs in.
const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

/// The project of the harness's key.
pub(super) const PROJECT: &str = "proj_demo";
/// The harness's key id.
pub(super) const KEY_ID: &str = "key_demo";

/// What a test changes in the config.
#[derive(Clone, Debug)]
pub(super) struct Setup {
    /// `[server] max_body_bytes`.
    pub(super) max_body_bytes: u64,
    /// `[upstream] request_timeout_ms`.
    pub(super) request_timeout_ms: u64,
    /// Adds per month of the project.
    pub(super) adds: u64,
    /// Whether loopback is a trusted proxy.
    pub(super) loopback_trusted: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            max_body_bytes: 1024 * 1024,
            request_timeout_ms: 10_000,
            adds: 100,
            loopback_trusted: false,
        }
    }
}

/// A running proxy: its address, the key to call it with, its audit log and its quotas.
pub(super) struct Proxied {
    pub(super) addr: SocketAddr,
    pub(super) key: ApiKey,
    pub(super) log: AuditLog,
    sink: MemoryAuditSink,
    deployment: Deployment,
}

impl Proxied {
    /// The pipeline in front of `url`, as `serve` builds it (the Mozilla roots for
    /// `https://`).
    pub(super) async fn start(url: &str, setup: Setup) -> Proxied {
        Proxied::start_with(url, setup, None).await
    }

    /// The pipeline in front of `url`, checking an `https://` upstream against `roots` when
    /// given.
    pub(super) async fn start_with(url: &str, setup: Setup, roots: Option<Roots>) -> Proxied {
        let key = ApiKey::generate(Environment::Development).expect("randomness");
        let config = Config::from_toml(&config_text(&key, &setup)).expect("a valid config");
        let clock = ManualClock::new(T0);
        let upstream = match roots {
            None => Upstream::new(url, &config, "http"),
            Some(roots) => Upstream::with_roots(url, &config, "http", roots),
        };
        let upstream = upstream.expect("a valid upstream");
        let sink = MemoryAuditSink::new();
        let options = DeploymentOptions::new()
            .with_clock(clock)
            .with_audit_sink(sink.clone())
            .with_health_check(upstream.health_check());
        let deployment = Deployment::start(&config, options)
            .await
            .expect("a deployment of the config");
        let log = deployment.audit().clone();
        let pipeline = deployment.layer();
        let service = pipeline.around(upstream);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let service =
                    service
                        .clone()
                        .map_request(move |mut request: http::Request<Incoming>| {
                            request.extensions_mut().insert(ClientAddr(peer));
                            request
                        });
                let service = TowerToHyperService::new(service);
                tokio::spawn(async move {
                    let http = hyper::server::conn::http1::Builder::new();
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Proxied {
            addr,
            key,
            log,
            sink,
            deployment,
        }
    }

    /// The month's use of `operation` by the project.
    pub(super) async fn used(&self, operation: Operation) -> u64 {
        let usage = self
            .deployment
            .quota_usage(PROJECT, operation, Month::of(T0))
            .await;
        usage.expect("the memory store").expect("a plan").used
    }

    /// The audit events of the calls so far, as JSON, after a flush: the start's
    /// reconciliation of the config, an event of its own (method `RECONCILE`), is left out.
    pub(super) async fn events(&self) -> Vec<serde_json::Value> {
        self.log.flush().await;
        let lines = self.sink.lines();
        lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
            .filter(|event| event["method"] != "RECONCILE")
            .collect()
    }

    /// The status of every audit event so far, in order.
    pub(super) async fn audited_statuses(&self) -> Vec<u64> {
        let events = self.events().await;
        events
            .iter()
            .map(|e| e["status"].as_u64().expect("a status"))
            .collect()
    }

    /// `Authorization: Bearer <key>` and `X-Project-ID`: a request the pipeline admits.
    pub(super) fn credentials(&self) -> [(&'static str, String); 2] {
        [
            (
                "authorization",
                format!("Bearer {}", self.key.expose_secret()),
            ),
            ("x-project-id", PROJECT.to_owned()),
        ]
    }
}

/// One project (100 adds unless set, 1000 queries), one key, the body limit, the timeouts, and
/// quota routes for a path the memory API does not have: `/v2/notes/*`.
fn config_text(key: &ApiKey, setup: &Setup) -> String {
    let trusted = if setup.loopback_trusted {
        r#"["127.0.0.1"]"#
    } else {
        "[]"
    };
    format!(
        r#"environment = "development"

[[projects]]
id = "{PROJECT}"
adds_per_month = {adds}
queries_per_month = 1000

[[keys]]
id = "{KEY_ID}"
sha256 = "{hash}"
project = "{PROJECT}"
environment = "development"
rps = 1000
rpm = 100000

[server]
max_body_bytes = {max}

[upstream]
connect_timeout_ms = 2000
request_timeout_ms = {timeout}
pool_max_idle = 8

[health]
trusted_proxies = {trusted}

[[quota.routes]]
method = "POST"
path = "/v2/notes/*"
operation = "add"

[[quota.routes]]
method = "GET"
path = "/v2/notes/*"
operation = "query"
"#,
        adds = setup.adds,
        hash = key.hash().to_hex(),
        max = setup.max_body_bytes,
        timeout = setup.request_timeout_ms,
    )
}
