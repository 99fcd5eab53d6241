//! `HealthRoute`: the report, the per-address window on a manual clock, trusted proxies, checks
//! and their deadline, and the route needing no key inside a pipeline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{Fixture, Recorder, Reply, T0, assert_problem, recording_service, send};
use http::{Method, Request};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::ManualClock;
use memorysync_pipeline::health::{CheckStatus, HealthRouteLayer, check_fn};
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::{ClientAddr, Environment, TrustedProxies};
use tower::{Layer, Service, ServiceBuilder};

/// A request from `peer`, optionally with an `X-Forwarded-For` line.
fn request(method: Method, path: &str, peer: [u8; 4], forwarded: Option<&str>) -> Request<String> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .extension(ClientAddr(SocketAddr::from((peer, 51_000))));
    if let Some(forwarded) = forwarded {
        builder = builder.header("x-forwarded-for", forwarded);
    }
    builder.body(String::new()).unwrap()
}

fn probe(peer: [u8; 4]) -> Request<String> {
    request(Method::GET, "/health", peer, None)
}

/// The health route on `clock` (with `configure` applied) over a recording inner service.
fn health_service(
    clock: &ManualClock,
    recorder: &Arc<Recorder>,
    configure: impl FnOnce(HealthRouteLayer) -> HealthRouteLayer,
) -> impl Service<
    Request<String>,
    Response = http::Response<impl http_body::Body<Error: std::fmt::Debug>>,
    Error: std::fmt::Debug,
> + Clone {
    configure(HealthRouteLayer::new().with_clock(clock.clone())).layer(recording_service(recorder))
}

#[track_caller]
fn assert_ok_report(reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.json(), serde_json::json!({ "status": "ok" }));
}

#[track_caller]
fn assert_rate_limited(reply: &Reply) {
    assert_problem(reply, 429, "health_rate_limited");
    let retry_after: u64 = reply.header("retry-after").parse().unwrap();
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
}

fn setup() -> (ManualClock, Arc<Recorder>) {
    (ManualClock::new(T0), Arc::default())
}

#[tokio::test]
async fn get_health_answers_ok_as_json() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| l);
    let reply = send(service, probe([192, 0, 2, 1])).await;
    assert_ok_report(&reply);
    assert_eq!(reply.text(), r#"{"status":"ok"}"#);
    assert_eq!(recorder.calls(), 0, "the probe reached the inner service");
}

#[tokio::test]
async fn head_health_answers_200_with_an_empty_body() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| l);
    let reply = send(
        service,
        request(Method::HEAD, "/health", [192, 0, 2, 1], None),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty(), "{reply:?}");
    assert_eq!(recorder.calls(), 0);
}

#[tokio::test]
async fn the_sixth_probe_within_a_second_from_one_address_is_rate_limited() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| l);
    for _ in 0..5 {
        assert_ok_report(&send(service.clone(), probe([192, 0, 2, 1])).await);
    }
    assert_rate_limited(&send(service, probe([192, 0, 2, 1])).await);
    assert_eq!(recorder.calls(), 0);
}

#[tokio::test]
async fn a_busy_address_does_not_limit_another() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| l);
    for _ in 0..6 {
        send(service.clone(), probe([192, 0, 2, 1])).await;
    }
    assert_rate_limited(&send(service.clone(), probe([192, 0, 2, 1])).await);
    assert_ok_report(&send(service, probe([192, 0, 2, 2])).await);
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| l);
    let peer = [203, 0, 113, 9];
    for i in 1..=5u8 {
        let spoofed = format!("198.51.100.{i}");
        let reply = send(
            service.clone(),
            request(Method::GET, "/health", peer, Some(&spoofed)),
        );
        assert_ok_report(&reply.await);
    }
    let fresh = request(Method::GET, "/health", peer, Some("198.51.100.77"));
    assert_rate_limited(&send(service.clone(), fresh).await);
    assert_rate_limited(&send(service, probe(peer)).await);
}

#[tokio::test]
async fn a_trusted_proxy_gets_one_window_per_forwarded_client() {
    let (clock, recorder) = setup();
    let proxies = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
    let service = health_service(&clock, &recorder, |l| l.with_trusted_proxies(proxies));
    let proxy = [10, 0, 0, 1];
    let from = |client: &str| request(Method::GET, "/health", proxy, Some(client));
    for _ in 0..5 {
        assert_ok_report(&send(service.clone(), from("198.51.100.1")).await);
    }
    assert_rate_limited(&send(service.clone(), from("198.51.100.1")).await);
    assert_ok_report(&send(service.clone(), from("198.51.100.2")).await);
    // A second proxy hop in the list is skipped; the client is still the one behind it.
    assert_rate_limited(&send(service, from("198.51.100.1, 10.0.0.2")).await);
}

#[tokio::test]
async fn an_address_is_admitted_again_once_its_oldest_probe_is_a_second_old() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| l);
    for _ in 0..5 {
        assert_ok_report(&send(service.clone(), probe([192, 0, 2, 1])).await);
        clock.advance(Duration::from_millis(100));
    }
    clock.set(T0.saturating_add(Duration::from_millis(999)));
    assert_rate_limited(&send(service.clone(), probe([192, 0, 2, 1])).await);
    clock.set(T0.saturating_add(Duration::from_secs(1)));
    assert_ok_report(&send(service.clone(), probe([192, 0, 2, 1])).await);
    assert_rate_limited(&send(service.clone(), probe([192, 0, 2, 1])).await);
    clock.advance(Duration::from_secs(1));
    for _ in 0..5 {
        assert_ok_report(&send(service.clone(), probe([192, 0, 2, 1])).await);
    }
}

#[tokio::test]
async fn other_methods_and_paths_pass_to_the_inner_service() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| l);
    let peer = [192, 0, 2, 1];
    for _ in 0..10 {
        let reply = send(
            service.clone(),
            request(Method::POST, "/health", peer, None),
        )
        .await;
        assert_eq!((reply.status.as_u16(), reply.text()), (200, "inner"));
        let reply = send(
            service.clone(),
            request(Method::GET, "/v1/memories", peer, None),
        )
        .await;
        assert_eq!((reply.status.as_u16(), reply.text()), (200, "inner"));
    }
    assert_eq!(recorder.calls(), 20);
    // None of them used up the address's probes.
    assert_ok_report(&send(service, probe(peer)).await);
}

#[tokio::test]
async fn a_failing_check_makes_the_report_degraded_and_names_it() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| {
        l.with_check(check_fn("cache", || async { CheckStatus::Ok }))
            .with_check(check_fn("database", || async {
                CheckStatus::Degraded("connection refused".into())
            }))
    });
    let reply = send(service, probe([192, 0, 2, 1])).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    let expected = serde_json::json!({
        "status": "degraded",
        "checks": { "cache": "ok", "database": "connection refused" },
    });
    assert_eq!(reply.json(), expected);
    assert_eq!(recorder.calls(), 0);
}

#[tokio::test]
async fn passing_checks_report_ok() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| {
        l.with_check(check_fn("cache", || async { CheckStatus::Ok }))
    });
    assert_ok_report(&send(service, probe([192, 0, 2, 1])).await);
}

#[tokio::test(start_paused = true)]
async fn a_check_that_never_finishes_is_degraded_after_its_timeout() {
    let (clock, recorder) = setup();
    let service = health_service(&clock, &recorder, |l| {
        l.with_check(check_fn("stuck", std::future::pending::<CheckStatus>))
            .with_check_timeout(Duration::from_millis(250))
    });
    let started = tokio::time::Instant::now();
    let reply = send(service, probe([192, 0, 2, 1])).await;
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(reply.status, 200);
    let report = reply.json();
    assert_eq!(report["status"], "degraded", "{report}");
    assert!(report["checks"]["stuck"].is_string(), "{report}");
    assert_ne!(report["checks"]["stuck"], "ok");
}

#[tokio::test]
async fn the_health_route_needs_no_key_in_front_of_api_key_auth() {
    let fixture = Fixture::new().await;
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new().with_clock(fixture.clock.clone()))
        .stage(ApiKeyAuthLayer::new(
            MemoryKeyStore::new(),
            Environment::Development,
        ))
        .stage(ProjectScopeLayer::new())
        .into_layer();
    let service = ServiceBuilder::new()
        .layer(pipeline)
        .service(recording_service(&fixture.recorder));
    assert_ok_report(&send(service.clone(), probe([192, 0, 2, 1])).await);
    let head = request(Method::HEAD, "/health", [192, 0, 2, 1], None);
    assert_eq!(send(service.clone(), head).await.status, 200);
    assert_eq!(fixture.recorder.calls(), 0);

    let reply = send(
        service,
        request(Method::GET, "/v1/memories", [192, 0, 2, 1], None),
    )
    .await;
    assert_problem(&reply, 401, "missing_api_key");
    assert_eq!(fixture.recorder.calls(), 0);
}
