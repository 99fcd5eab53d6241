//! `ProjectScope` behind `ApiKeyAuth`: the `X-Project-ID` header, the `Scope` it leaves, the
//! stage used alone, and the whole pipeline under an axum `Router`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{
    Fixture, KEY_ID, PROJECT, Reply, assert_problem, get_with, recording_service, send,
};
use axum::routing::get;
use axum::{Extension, Router};
use http::{HeaderValue, Request};
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::KeyStore;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::{ProjectScopeLayer, Scope};
use memorysync_pipeline::{ClientAddr, Environment};
use tower::{Layer, ServiceBuilder};
use tower_http::trace::TraceLayer;

/// Sends `request` through auth, then scope, then the fixture's inner service.
async fn through_scope(fixture: &Fixture, request: Request<String>) -> Reply {
    let service = ServiceBuilder::new()
        .layer(fixture.auth_layer())
        .layer(ProjectScopeLayer::new())
        .service(recording_service(&fixture.recorder));
    send(service, request).await
}

/// A request with the fixture's key and these `X-Project-ID` values, raw.
fn with_project_ids(fixture: &Fixture, values: &[&[u8]]) -> Request<String> {
    let mut request = fixture.bearer_request();
    for value in values {
        let value = HeaderValue::from_bytes(value).unwrap();
        request.headers_mut().append("x-project-id", value);
    }
    request
}

/// The request is refused with `status` and `code`, and never reaches the inner service.
async fn assert_refused(fixture: &Fixture, request: Request<String>, status: u16, code: &str) {
    let reply = through_scope(fixture, request).await;
    assert_problem(&reply, status, code);
    assert_eq!(fixture.recorder.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_request_without_x_project_id_is_missing_project_id() {
    let fixture = Fixture::new().await;
    let request = with_project_ids(&fixture, &[]);
    assert_refused(&fixture, request, 400, "missing_project_id").await;
}

#[tokio::test]
async fn an_empty_x_project_id_is_missing_project_id() {
    let fixture = Fixture::new().await;
    let request = with_project_ids(&fixture, &[b""]);
    assert_refused(&fixture, request, 400, "missing_project_id").await;
}

#[tokio::test]
async fn a_whitespace_only_x_project_id_is_missing_project_id() {
    let fixture = Fixture::new().await;
    let request = with_project_ids(&fixture, &[b"   \t "]);
    assert_refused(&fixture, request, 400, "missing_project_id").await;
}

#[tokio::test]
async fn an_x_project_id_with_non_ascii_bytes_is_missing_project_id() {
    let fixture = Fixture::new().await;
    let request = with_project_ids(&fixture, &[b"proj_\xe9demo"]);
    assert_refused(&fixture, request, 400, "missing_project_id").await;
    let request = with_project_ids(&fixture, &[b"\xff\xfe"]);
    assert_refused(&fixture, request, 400, "missing_project_id").await;
}

#[tokio::test]
async fn x_project_id_sent_twice_is_missing_project_id() {
    let fixture = Fixture::new().await;
    let project = PROJECT.as_bytes();
    let request = with_project_ids(&fixture, &[project, project]);
    assert_refused(&fixture, request, 400, "missing_project_id").await;
}

#[tokio::test]
async fn another_projects_id_is_project_mismatch() {
    let fixture = Fixture::new().await;
    let request = with_project_ids(&fixture, &[b"proj_other"]);
    assert_refused(&fixture, request, 403, "project_mismatch").await;
    let request = with_project_ids(&fixture, &[b"PROJ_DEMO"]);
    assert_refused(&fixture, request, 403, "project_mismatch").await;
}

#[tokio::test]
async fn the_keys_project_passes_with_a_scope_in_the_keys_environment() {
    let fixture = Fixture::with_key(Environment::Production, |r| r).await;
    let request = with_project_ids(&fixture, &[PROJECT.as_bytes()]);
    let reply = through_scope(&fixture, request).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(fixture.recorder.calls(), 1);
    let scope = fixture.recorder.scope().expect("no Scope extension");
    assert_eq!(scope, Scope::new(PROJECT, Environment::Production));
    let principal = fixture
        .recorder
        .principal()
        .expect("no Principal extension");
    assert_eq!(principal.key_id(), KEY_ID);
}

#[tokio::test]
async fn project_scope_without_api_key_auth_is_missing_api_key() {
    let fixture = Fixture::new().await;
    let service = ProjectScopeLayer::new().layer(recording_service(&fixture.recorder));
    // The header alone names a project, but nothing proves the caller may use it.
    let request = get_with(&[("x-project-id", PROJECT)]);
    let reply = send(service, request).await;
    assert_problem(&reply, 401, "missing_api_key");
    assert_eq!(fixture.recorder.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_full_pipeline_under_axum_admits_only_what_every_stage_admits() {
    let fixture = Fixture::new().await;
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new().with_clock(fixture.clock.clone()))
        .stage(AuditRecordLayer::new(
            AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap(),
        ))
        .layer(TraceLayer::new_for_http())
        .stage(fixture.auth_layer())
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .into_layer();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let list = move |Extension(scope): Extension<Scope>| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            format!("memories of {} ({})", scope.project(), scope.environment())
        }
    };
    let app = Router::new()
        .route("/v1/memories", get(list))
        .layer(pipeline);
    let request = |headers: &[(&str, &str)]| {
        let mut builder = Request::get("/v1/memories")
            .extension(ClientAddr(SocketAddr::from(([192, 0, 2, 7], 40_000))));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    };

    let admitted = request(&[("x-api-key", fixture.secret()), ("x-project-id", PROJECT)]);
    let reply = send(app.clone(), admitted).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "memories of proj_demo (development)");
    assert_eq!(handled.load(Ordering::SeqCst), 1);

    let rejections = [
        (
            request(&[("x-project-id", PROJECT)]),
            401,
            "missing_api_key",
        ),
        (
            request(&[("x-api-key", fixture.secret())]),
            400,
            "missing_project_id",
        ),
        (
            request(&[("x-api-key", fixture.secret()), ("x-project-id", "proj_x")]),
            403,
            "project_mismatch",
        ),
    ];
    for (rejected, status, code) in rejections {
        let reply = send(app.clone(), rejected).await;
        assert_problem(&reply, status, code);
    }
    assert_eq!(
        handled.load(Ordering::SeqCst),
        1,
        "a rejected request was handled"
    );
    // Auth counted the three requests that carried the key, scope refusals included.
    assert_eq!(fixture.store.usage(KEY_ID).await.unwrap().request_count, 3);
}
