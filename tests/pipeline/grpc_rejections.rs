//! Rejections of gRPC requests: trailers-only responses, HTTP 200 with `grpc-status` in the
//! headers and no body, for every `application/grpc*` content type.

use crate::common::{Fixture, KEY_ID, PROJECT, Reply, T0, assert_problem, recording_service, send};
use http::Request;
use memorysync_pipeline::key::KeyStore;
use memorysync_pipeline::scope::ProjectScopeLayer;
use tower::ServiceBuilder;

/// A gRPC call of `content_type` with these headers.
fn grpc_call(content_type: &str, headers: &[(&str, &str)]) -> Request<String> {
    let mut builder = Request::post("/memorysync.v1.Memories/Search")
        .header("content-type", content_type)
        .header("te", "trailers");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(String::new()).unwrap()
}

/// Sends `request` through auth, then scope, then the fixture's inner service.
async fn through_stages(fixture: &Fixture, request: Request<String>) -> Reply {
    let service = ServiceBuilder::new()
        .layer(fixture.auth_layer())
        .layer(ProjectScopeLayer::new())
        .service(recording_service(&fixture.recorder));
    send(service, request).await
}

/// A trailers-only answer with `grpc-status: status` for the rejection `code`; the inner service
/// was not called.
#[track_caller]
fn assert_grpc_refusal(fixture: &Fixture, reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("grpc-status"), status.to_string());
    assert_eq!(reply.header("content-type"), "application/grpc");
    let message = reply.header("grpc-message");
    assert!(message.starts_with(code), "grpc-message: {message}");
    assert!(
        reply.body.is_empty(),
        "body of a trailers-only answer: {reply:?}"
    );
    assert_eq!(reply.trailers, None, "the status belongs in the headers");
    assert!(!message.contains(&fixture.secret()[9..]));
    assert_eq!(fixture.recorder.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_grpc_call_without_a_key_is_unauthenticated() {
    let fixture = Fixture::new().await;
    let request = grpc_call("application/grpc", &[("x-project-id", PROJECT)]);
    let reply = through_stages(&fixture, request).await;
    assert_grpc_refusal(&fixture, &reply, 16, "missing_api_key");
}

#[tokio::test]
async fn a_grpc_call_naming_another_project_is_permission_denied() {
    let fixture = Fixture::new().await;
    let headers = [
        ("x-api-key", fixture.secret()),
        ("x-project-id", "proj_other"),
    ];
    let reply = through_stages(&fixture, grpc_call("application/grpc", &headers)).await;
    assert_grpc_refusal(&fixture, &reply, 7, "project_mismatch");
}

#[tokio::test]
async fn a_grpc_call_without_a_project_is_invalid_argument() {
    let fixture = Fixture::new().await;
    let bearer = fixture.bearer();
    let request = grpc_call("application/grpc", &[("authorization", &bearer)]);
    let reply = through_stages(&fixture, request).await;
    assert_grpc_refusal(&fixture, &reply, 3, "missing_project_id");
}

#[tokio::test]
async fn application_grpc_proto_is_treated_as_grpc() {
    let fixture = Fixture::new().await;
    let request = grpc_call("application/grpc+proto", &[("x-project-id", PROJECT)]);
    let reply = through_stages(&fixture, request).await;
    assert_grpc_refusal(&fixture, &reply, 16, "missing_api_key");

    let headers = [
        ("x-api-key", fixture.secret()),
        ("x-project-id", "proj_other"),
    ];
    let reply = through_stages(&fixture, grpc_call("application/grpc+proto", &headers)).await;
    assert_grpc_refusal(&fixture, &reply, 7, "project_mismatch");
}

#[tokio::test]
async fn every_key_refusal_over_grpc_is_unauthenticated() {
    let fixture = Fixture::new().await;
    let stranger = Fixture::new().await;
    let malformed = format!("{}x", fixture.secret());
    let cases = [
        (malformed.as_str(), "malformed_api_key"),
        (stranger.secret(), "invalid_api_key"),
    ];
    for (key, code) in cases {
        let request = grpc_call("application/grpc", &[("x-api-key", key)]);
        let reply = through_stages(&fixture, request).await;
        assert_grpc_refusal(&fixture, &reply, 16, code);
    }
    fixture.store.revoke(KEY_ID, T0).await.unwrap();
    let request = grpc_call("application/grpc", &[("x-api-key", fixture.secret())]);
    let reply = through_stages(&fixture, request).await;
    assert_grpc_refusal(&fixture, &reply, 16, "revoked_api_key");
}

#[tokio::test]
async fn an_admitted_grpc_call_reaches_the_inner_service_untouched() {
    let fixture = Fixture::new().await;
    let headers = [("x-api-key", fixture.secret()), ("x-project-id", PROJECT)];
    let reply = through_stages(&fixture, grpc_call("application/grpc", &headers)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "inner");
    assert!(reply.headers.get("grpc-status").is_none());
    assert_eq!(fixture.recorder.calls(), 1);
}

#[tokio::test]
async fn a_non_grpc_content_type_gets_problem_details() {
    let fixture = Fixture::new().await;
    for content_type in ["application/json", "text/plain", "application/x-grpc"] {
        let request = grpc_call(content_type, &[("x-project-id", PROJECT)]);
        let reply = through_stages(&fixture, request).await;
        assert_problem(&reply, 401, "missing_api_key");
        assert!(reply.headers.get("grpc-status").is_none());
    }
    assert_eq!(fixture.recorder.calls(), 0);
}
