//! Keys limited apart, gRPC refusals, the stage used alone, a clock that jumps backwards, and a
//! limiter at its bound of keys.

use super::*;

#[tokio::test]
async fn two_keys_are_limited_independently() {
    let limited = Limited::new(Some(2), None).await;
    let other = limited.add_key("key_other", Some(2), None).await;
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);
    assert_eq!(limited.calls(), 2);

    // Key A is spent; key B has its whole limit at the same instant.
    let first = limited.request_with(&other).await;
    assert_admitted(&first);
    assert_eq!(rate_limit(&first), RateLimitField::new("rps", 1, 1));
    let second = limited.request_with(&other).await;
    assert_admitted(&second);
    assert_eq!(rate_limit(&second), RateLimitField::new("rps", 0, 1));
    assert_rate_limited(&limited.request_with(&other).await, 1);
    assert_eq!(limited.calls(), 4);

    // And B's admissions did not spend A's next second.
    limited.at(1_000);
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);
}

#[tokio::test]
async fn a_grpc_call_over_the_limit_is_resource_exhausted_in_a_200() {
    let limited = Limited::new(Some(2), None).await;
    let grpc_call = || {
        Request::post("/memorysync.v1.Memories/Search")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("x-api-key", limited.fixture.secret())
            .body(String::new())
            .unwrap()
    };
    for _ in 0..2 {
        assert_admitted(&limited.send(grpc_call()).await);
    }
    let refused = limited.send(grpc_call()).await;
    assert_eq!(refused.status, 200, "{refused:?}");
    assert_eq!(refused.header("grpc-status"), "8");
    assert_eq!(refused.header("content-type"), "application/grpc");
    let message = refused.header("grpc-message");
    assert!(message.starts_with(RATE_LIMITED), "grpc-message: {message}");
    assert!(refused.body.is_empty(), "body of a trailers-only answer");
    assert_eq!(
        limited.calls(),
        2,
        "the refused call reached the inner service"
    );
}

#[tokio::test]
async fn the_stage_without_api_key_auth_refuses_401_missing_api_key() {
    let fixture = Fixture::with_key(Environment::Development, |r| {
        r.with_limits(Some(100), Some(1_000))
    })
    .await;
    let limit = SlidingWindowRateLimitLayer::new().with_clock(fixture.clock.clone());
    let service = limit.layer(recording_service(&fixture.recorder));
    // Even a valid key in the headers is no Principal: nothing authenticated it.
    for request in [get_with(&[]), fixture.keyed(), fixture.bearer_request()] {
        let reply = send(service.clone(), request).await;
        assert_problem(&reply, 401, "missing_api_key");
        assert_eq!(reply.headers.get("ratelimit"), None);
    }
    assert_eq!(fixture.recorder.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_clock_jumping_backwards_frees_no_capacity() {
    let limited = Limited::new(Some(2), None).await;
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);

    // Ten seconds back: the key's windows take it as standing still at T0.
    limited.at(-10_000);
    for _ in 0..3 {
        assert_rate_limited(&limited.request().await, 1);
    }
    limited.at(-500);
    assert_rate_limited(&limited.request().await, 1);
    assert_eq!(limited.calls(), 2, "the backwards clock over-admitted");

    limited.at(1_000);
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);
    assert_eq!(limited.calls(), 4);
}

#[tokio::test]
async fn a_limiter_at_its_bound_refuses_a_new_key_until_the_others_go_idle() {
    let limited = Limited::with_store(Some(10), Some(100), SlidingWindowLimiter::new(2)).await;
    let second = limited.add_key("key_second", Some(10), Some(100)).await;
    let third = limited.add_key("key_third", Some(10), Some(100)).await;
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request_with(&second).await);
    assert_eq!(limited.limit.store().tracked_keys(), 2);

    let refused = limited.request_with(&third).await;
    assert_rate_limited(&refused, 1);
    assert_eq!(
        limited.calls(),
        2,
        "the refused request reached the inner service"
    );

    // The first two keys are still live in their minute windows: the bound still holds.
    limited.at(1_500);
    assert_rate_limited(&limited.request_with(&third).await, 1);
    assert_eq!(limited.calls(), 2);

    // Both idle for more than a minute: swept out, and the third key gets a place.
    limited.at(61_000);
    assert_admitted(&limited.request_with(&third).await);
    assert_eq!(limited.calls(), 3);
    assert!(limited.limit.store().tracked_keys() <= 2);
}
