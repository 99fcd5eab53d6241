//! The pipeline around a finished axum router: routes and fallbacks merged or nested into the
//! router stay behind the stages, and only routes added to an outer router stay outside.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::{ClientAddr, Environment};

use crate::common::{assert_problem, send};

fn get_from_client(path: &str) -> Request<Body> {
    Request::get(path)
        .extension(ClientAddr(([192, 0, 2, 7], 40_000).into()))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn merging_a_router_after_the_pipeline_let_unrouted_paths_skip_auth_and_audit() {
    let sink = MemoryAuditSink::new();
    let audit = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new())
        .stage(AuditRecordLayer::new(audit.clone()))
        .stage(ApiKeyAuthLayer::new(
            MemoryKeyStore::new(),
            Environment::Production,
        ))
        .into_layer();
    // The application composes its router fully: a merge, a nest and a fallback of its own.
    let api = Router::new()
        .route("/v1/memories", get(|| async { "[]" }))
        .merge(Router::new().route("/v1/other", get(|| async { "other" })))
        .nest(
            "/v2",
            Router::new().route("/memories", get(|| async { "[]" })),
        )
        .fallback(|| async { "fallback" });
    // `/metrics` outside on purpose, merged after the pipeline (a scraper has no key).
    let app = Router::new()
        .fallback_service(pipeline.around(api))
        .merge(Router::new().route("/metrics", get(|| async { "# metrics" })));

    assert_eq!(
        send(app.clone(), get_from_client("/health")).await.status,
        200
    );
    for path in [
        "/admin",
        "/v1/memories",
        "/v1/other",
        "/v2/memories",
        "/v2/admin",
    ] {
        let reply = send(app.clone(), get_from_client(path)).await;
        assert_problem(&reply, 401, "missing_api_key");
    }
    let metrics = send(app, get_from_client("/metrics")).await;
    assert_eq!(
        (metrics.status.as_u16(), metrics.text()),
        (200, "# metrics")
    );

    audit.flush().await;
    let lines = sink.lines();
    assert_eq!(
        lines.len(),
        5,
        "one event per refused call, none for health or metrics"
    );
    let admin = lines
        .iter()
        .find(|l| l.contains(r#""path":"/admin""#))
        .unwrap();
    assert!(admin.contains(r#""status":401"#), "{admin}");
}
