//! The `RateLimit-Policy` and `RateLimit` fields on admitted and refused responses, for keys with
//! both windows, one, or none.

use super::*;

#[tokio::test]
async fn admitted_and_refused_responses_carry_the_policy_and_the_remaining_count() {
    let limited = Limited::new(Some(3), Some(300)).await;
    let policy = r#""rps";q=3;w=1, "rpm";q=300;w=60"#;
    // Three admissions within one second: the per-second window is the tightest.
    for (offset, remaining) in [(0, 2), (400, 1), (700, 0)] {
        limited.at(offset);
        let reply = limited.request().await;
        assert_admitted(&reply);
        assert_eq!(reply.header("ratelimit-policy"), policy);
        let field = rate_limit(&reply);
        assert_eq!(field.policy, "rps", "{reply:?}");
        assert_eq!(field.r, remaining, "{reply:?}");
        // The first admission frees a second from now; later ones when it leaves the window.
        assert_eq!(field.t, ceil_secs(offset, 1_000).max(1), "{reply:?}");
        assert!(field.t >= 1);
    }

    limited.at(800);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(refused.header("ratelimit-policy"), policy);
    let field = rate_limit(&refused);
    assert_eq!(field, RateLimitField::new("rps", 0, 1));
    assert_eq!(field.t.to_string(), refused.header("retry-after"));
    assert_eq!(limited.calls(), 3);
}

#[tokio::test]
async fn when_the_minute_is_tightest_ratelimit_reports_it_and_t_matches_retry_after() {
    let limited = Limited::new(Some(100), Some(5)).await;
    let policy = r#""rps";q=100;w=1, "rpm";q=5;w=60"#;
    // (offset, remaining in the minute, seconds until the first admission leaves it)
    let expected = [
        (0, 4, 60),
        (2_500, 3, 58),
        (5_000, 2, 55),
        (7_500, 1, 53),
        (10_000, 0, 50),
    ];
    for (offset, remaining, reset) in expected {
        limited.at(offset);
        let reply = limited.request().await;
        assert_admitted(&reply);
        assert_eq!(reply.header("ratelimit-policy"), policy);
        assert_eq!(
            rate_limit(&reply),
            RateLimitField::new("rpm", remaining, reset)
        );
    }
    limited.at(10_300);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 50);
    assert_eq!(refused.header("ratelimit-policy"), policy);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rpm", 0, 50));
}

/// The minute window counts its admissions in 20 groups: at 300 a minute, its oldest group holds
/// the first second's 10 admissions and 5 of the next, ends at +1 s and leaves the window at
/// +61 s. So it may free later than an exact log would (30 s here), never sooner.
#[tokio::test]
async fn ten_a_second_for_thirty_seconds_spends_rpm_300_and_the_minute_refuses_for_31_seconds() {
    let limited = Limited::new(Some(10), Some(300)).await;
    for _ in 0..10 {
        assert_admitted(&limited.request().await);
    }
    assert_rate_limited(&limited.request().await, 1);
    for second in 1..30 {
        limited.at(second * 1_000);
        for _ in 0..10 {
            assert_admitted(&limited.request().await);
        }
    }
    limited.at(30_000);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 31);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rpm", 0, 31));
    assert_eq!(limited.calls(), 300);
}

#[tokio::test]
async fn a_key_with_only_rpm_gets_only_the_rpm_policy() {
    let limited = Limited::new(None, Some(300)).await;
    let reply = limited.request().await;
    assert_admitted(&reply);
    assert_eq!(reply.header("ratelimit-policy"), r#""rpm";q=300;w=60"#);
    assert_eq!(rate_limit(&reply), RateLimitField::new("rpm", 299, 60));
}

#[tokio::test]
async fn a_key_with_only_rps_gets_only_the_rps_policy() {
    let limited = Limited::new(Some(7), None).await;
    let reply = limited.request().await;
    assert_admitted(&reply);
    assert_eq!(reply.header("ratelimit-policy"), r#""rps";q=7;w=1"#);
    assert_eq!(rate_limit(&reply), RateLimitField::new("rps", 6, 1));
}

#[tokio::test]
async fn a_key_without_limits_gets_no_ratelimit_fields_and_is_never_refused() {
    let limited = Limited::new(None, None).await;
    for _ in 0..1_000 {
        let reply = limited.request().await;
        assert_admitted(&reply);
        assert_eq!(reply.headers.get("ratelimit-policy"), None, "{reply:?}");
        assert_eq!(reply.headers.get("ratelimit"), None, "{reply:?}");
        assert_eq!(reply.headers.get("retry-after"), None, "{reply:?}");
    }
    assert_eq!(limited.calls(), 1_000);
}
