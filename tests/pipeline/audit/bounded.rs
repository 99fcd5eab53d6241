//! `MemoryAuditSink` is bounded: unauthenticated requests with the longest paths and user agents
//! cannot grow it past its capacity. The oldest events go first, are counted, and `/health`
//! reports the audit check `degraded` with the count.

use std::convert::Infallible;

use http::{Request, Response};
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::{ClientAddr, Environment};
use tower::service_fn;

use crate::common::send;

fn from_client(path: &str, user_agent: &str) -> Request<String> {
    Request::get(path)
        .header("user-agent", user_agent)
        .extension(ClientAddr(([192, 0, 2, 9], 40_000).into()))
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn unauthenticated_requests_with_long_paths_grew_the_memory_sink_without_bound() {
    const CAPACITY: usize = 50;
    const REQUESTS: usize = 170;
    let sink = MemoryAuditSink::with_capacity(CAPACITY);
    let audit = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new().with_check(audit.health_check()))
        .stage(AuditRecordLayer::new(audit.clone()))
        .stage(ApiKeyAuthLayer::new(
            MemoryKeyStore::new(),
            Environment::Production,
        ))
        .into_layer();
    let app = pipeline.around(service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let health = send(app.clone(), from_client("/health", "probe")).await;
    assert_eq!(health.json()["status"], "ok", "{}", health.text());

    let user_agent = "u".repeat(600);
    for n in 0..REQUESTS {
        let path = format!("/{n:05}/{}", "p".repeat(4096));
        assert_eq!(
            send(app.clone(), from_client(&path, &user_agent))
                .await
                .status,
            401
        );
    }
    audit.flush().await;

    let evicted = (REQUESTS - CAPACITY) as u64;
    assert_eq!((sink.len(), sink.evicted()), (CAPACITY, evicted));
    assert_eq!(audit.stats().evicted, evicted);
    // The newest events are kept.
    let first_kept = format!("/{:05}/", REQUESTS - CAPACITY);
    assert!(
        sink.lines()[0].contains(&first_kept),
        "{}",
        &sink.lines()[0][..200]
    );
    let health = send(app, from_client("/health", "probe")).await;
    assert_eq!(health.status, 200);
    let report = health.json();
    assert_eq!(report["status"], "degraded", "{report}");
    let check = report["checks"]["audit"].as_str().unwrap();
    assert!(check.contains(&evicted.to_string()), "{check}");
}

#[test]
fn a_memory_sink_has_a_default_capacity() {
    let sink = MemoryAuditSink::new();
    assert_eq!(sink.capacity(), MemoryAuditSink::DEFAULT_CAPACITY);
    assert_eq!(MemoryAuditSink::default().capacity(), 10_000);
    assert_eq!((sink.len(), sink.evicted()), (0, 0));
}

#[test]
fn the_example_config_kept_its_audit_log_in_memory() {
    let config = memorysync_pipeline::config::Config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/memorysync.toml"
    ))
    .unwrap();
    assert_eq!(
        config.audit.dir.as_deref(),
        Some(std::path::Path::new("audit"))
    );
}
