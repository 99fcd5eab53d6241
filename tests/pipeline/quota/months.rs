//! Calendar months in UTC: a plan comes back on the first of the month, whatever the local time.

use super::*;

#[tokio::test]
async fn exhausted_on_the_last_millisecond_of_december_is_served_again_in_january() {
    let quota = Quota::new(3, 100);
    quota.set("2026-12-31T23:59:59.999Z");
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 3);

    quota.set("2027-01-01T00:00:00Z");
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 1);
    // December's count is kept for billing, untouched.
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 3);
}

#[tokio::test]
async fn exhausted_on_the_leap_day_is_served_again_on_the_first_of_march() {
    let quota = Quota::new(3, 100);
    quota.set("2028-02-01T00:00:00Z");
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.set("2028-02-29T23:59:59Z");
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2028, 2)).await, 3);

    quota.set("2028-03-01T00:00:00Z");
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2028, 3)).await, 1);
}

#[tokio::test]
async fn a_local_time_already_in_january_but_still_december_in_utc_stays_degraded() {
    let quota = Quota::new(3, 100);
    quota.set("2026-12-31T20:00:00Z");
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    // 00:30 on New Year's Day in UTC+1 and 09:00 in UTC+14 are both still December in UTC.
    quota.set("2027-01-01T00:30:00+01:00");
    quota.assert_degraded(add(), Operation::Add).await;
    quota.set("2027-01-01T09:00:00+14:00");
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 3);
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 0);

    // 23:30 on New Year's Eve in UTC-1 is already January in UTC.
    quota.set("2026-12-31T23:30:00-01:00");
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 1);
}

#[tokio::test]
async fn a_clock_back_in_the_previous_month_finds_that_months_count() {
    let quota = Quota::new(3, 100);
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.set("2027-02-01T00:00:00Z");
    quota.assert_served(add()).await;
    // Clocks do jump backwards: January's count is kept, so January stays used up.
    quota.set("2027-01-31T23:00:00Z");
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 3);
    assert_eq!(quota.used_in(Operation::Add, month(2027, 2)).await, 1);
}
