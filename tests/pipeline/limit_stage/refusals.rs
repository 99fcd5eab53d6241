//! Refusals in each window, and `Retry-After` to the second, never 0.

use super::*;

#[tokio::test]
async fn the_fourth_request_in_one_instant_under_rps_3_is_429_with_retry_after_1() {
    let limited = Limited::new(Some(3), None).await;
    for _ in 0..3 {
        assert_admitted(&limited.request().await);
    }
    let refused = limited.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(
        limited.calls(),
        3,
        "the refused request reached the inner service"
    );

    limited
        .fixture
        .clock
        .advance(std::time::Duration::from_secs(1));
    assert_admitted(&limited.request().await);
    assert_eq!(limited.calls(), 4);
}

#[tokio::test]
async fn rpm_5_refuses_the_sixth_until_the_first_admission_leaves_the_minute() {
    let limited = Limited::new(Some(100), Some(5)).await;
    let admissions_ms = [0, 2_500, 5_000, 7_500, 10_000];
    for offset in admissions_ms {
        limited.at(offset);
        assert_admitted(&limited.request().await);
    }

    let sixth_ms = 10_300;
    limited.at(sixth_ms);
    let refused = limited.request().await;
    let first_leaves_ms = admissions_ms[0] + 60_000;
    let retry_after = ceil_secs(sixth_ms, first_leaves_ms);
    assert_eq!(retry_after, 50);
    assert_rate_limited(&refused, retry_after);
    assert_eq!(limited.calls(), 5);

    // One millisecond early is still refused; exactly 60 s after the first admission is not.
    limited.at(first_leaves_ms - 1);
    assert_rate_limited(&limited.request().await, 1);
    limited.at(first_leaves_ms);
    assert_admitted(&limited.request().await);
    assert_eq!(limited.calls(), 6);
}

#[tokio::test]
async fn retry_after_is_1_not_0_a_millisecond_before_the_window_frees() {
    let limited = Limited::new(None, Some(1)).await;
    assert_admitted(&limited.request().await);
    limited.at(59_999);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rpm", 0, 1));

    let per_second = Limited::new(Some(1), None).await;
    assert_admitted(&per_second.request().await);
    per_second.at(999);
    let refused = per_second.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rps", 0, 1));
    per_second.at(1_000);
    assert_admitted(&per_second.request().await);
}
