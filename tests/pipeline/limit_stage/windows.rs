//! Windows longer than 1 s and 60 s: a key's `rps_window`/`rpm_window` (or the layer's
//! defaults) make the rate's quota `rate × window`, tolerate a burst the default window
//! refuses, and name the real window in `RateLimit-Policy`, `RateLimit` and `Retry-After`.

use std::time::Duration;

use memorysync_pipeline::limit::Windows;

use super::*;

/// The fixture's key at `rps`/`rpm`, with its own windows, on a default in-memory limiter.
async fn windowed(
    rps: Option<u32>,
    rpm: Option<u32>,
    rps_window: Option<u64>,
    rpm_window: Option<u64>,
) -> Limited {
    let fixture = Fixture::with_key(Environment::Development, |r| {
        r.with_limits(rps, rpm).with_windows(
            rps_window.map(Duration::from_secs),
            rpm_window.map(Duration::from_secs),
        )
    })
    .await;
    let limit = SlidingWindowRateLimitLayer::new().with_clock(fixture.clock.clone());
    Limited { fixture, limit }
}

/// No interval of `length_ms` holds more than `quota` of `times` (sorted).
#[track_caller]
fn assert_at_most(times: &[i64], quota: usize, length_ms: i64) {
    for (i, t) in times.iter().enumerate().skip(quota) {
        let earlier = times[i - quota];
        assert!(
            t - earlier >= length_ms,
            "{} admissions within {length_ms} ms: {earlier}..={t}",
            quota + 1
        );
    }
}

#[tokio::test]
async fn a_burst_of_21_every_4_s_at_5_per_second_over_4_s_admits_the_first_20_every_time() {
    let limited = windowed(Some(5), None, Some(4), None).await;
    let mut admitted = Vec::new();
    for burst in 0..6 {
        let start = burst * 4_000;
        limited.at(start);
        for i in 0..21 {
            let reply = limited.request().await;
            assert_eq!(reply.header("ratelimit-policy"), r#""rps";q=20;w=4"#);
            if i < 20 {
                assert_admitted(&reply);
                assert_eq!(rate_limit(&reply).r, 19 - i, "burst {burst}");
                admitted.push(start);
            } else {
                // The 21st waits for the burst's admissions to leave the 4 s window.
                assert_rate_limited(&reply, 4);
                assert_eq!(rate_limit(&reply), RateLimitField::new("rps", 0, 4));
            }
        }
    }
    assert_eq!(admitted.len(), 6 * 20);
    assert_at_most(&admitted, 20, 4_000);
    assert_eq!(limited.calls(), 6 * 20);
}

#[tokio::test]
async fn the_same_bursts_over_the_default_1_s_window_admit_5_of_each() {
    let limited = windowed(Some(5), None, None, None).await;
    for burst in 0..3 {
        limited.at(burst * 4_000);
        let served = {
            let mut served = 0;
            for _ in 0..20 {
                served += usize::from(limited.request().await.status == 200);
            }
            served
        };
        assert_eq!(served, 5, "burst {burst}");
    }
}

#[tokio::test]
async fn a_spread_burst_is_admitted_only_while_the_last_4_s_hold_fewer_than_20() {
    let limited = windowed(Some(5), None, Some(4), None).await;
    // 20 at 0.1 s apart fill the window by 1.9 s; the next fits only when the first leaves,
    // at 4.0 s, and then one more each 0.1 s.
    for i in 0..20 {
        limited.at(i * 100);
        assert_admitted(&limited.request().await);
    }
    limited.at(2_000);
    assert_rate_limited(&limited.request().await, 2);
    limited.at(3_999);
    assert_rate_limited(&limited.request().await, 1);
    limited.at(4_000);
    assert_admitted(&limited.request().await);
    limited.at(4_050);
    assert_rate_limited(&limited.request().await, 1);
    limited.at(4_100);
    assert_admitted(&limited.request().await);
}

#[tokio::test]
async fn a_long_minute_window_counts_its_quota_and_its_seconds_in_the_fields() {
    // 2 a minute over 10 minutes: 20 in any 10 minutes.
    let limited = windowed(None, Some(2), None, Some(600)).await;
    for i in 0..20 {
        limited.at(i * 1_000);
        let reply = limited.request().await;
        assert_admitted(&reply);
        assert_eq!(reply.header("ratelimit-policy"), r#""rpm";q=20;w=600"#);
    }
    limited.at(30_000);
    let refused = limited.request().await;
    // The first admission (at 0) leaves the window at 600 s.
    assert_rate_limited(&refused, 570);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rpm", 0, 570));
}

#[tokio::test]
async fn the_layer_default_windows_apply_to_keys_that_set_none() {
    let fixture = Fixture::with_key(Environment::Development, |r| {
        r.with_limits(Some(2), Some(100))
    })
    .await;
    let defaults = Windows::new(Duration::from_secs(3), Duration::from_secs(120)).unwrap();
    let limit = SlidingWindowRateLimitLayer::new()
        .with_clock(fixture.clock.clone())
        .with_windows(defaults);
    let limited = Limited { fixture, limit };
    let reply = limited.request().await;
    assert_eq!(
        reply.header("ratelimit-policy"),
        r#""rps";q=6;w=3, "rpm";q=200;w=120"#
    );
    // A key's own window wins over the default.
    let own = windowed(Some(2), Some(100), Some(10), None).await;
    assert_eq!(
        own.request().await.header("ratelimit-policy"),
        r#""rps";q=20;w=10, "rpm";q=100;w=60"#
    );
}
