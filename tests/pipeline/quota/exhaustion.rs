//! Exhausting a plan: adds and queries run out apart, and the degraded answer never calls inside.

use super::*;

#[tokio::test]
async fn the_fourth_add_of_a_three_add_plan_is_an_empty_result_without_calling_inside() {
    let quota = Quota::new(3, 100);
    for used in 1..=3 {
        quota.assert_served(add()).await;
        assert_eq!(quota.used(Operation::Add).await, used);
    }
    let outcome = quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(outcome.reply.trailers, None);
    assert_eq!(quota.backend.calls(), 3);
    assert_eq!(quota.used(Operation::Add).await, 3);
}

#[tokio::test]
async fn degraded_adds_leave_the_counter_at_the_limit() {
    let quota = Quota::new(3, 100);
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    for _ in 0..11 {
        quota.assert_degraded(add(), Operation::Add).await;
        assert_eq!(quota.used(Operation::Add).await, 3);
    }
    assert_eq!(quota.backend.calls(), 3);
}

#[tokio::test]
async fn queries_are_served_and_counted_apart_after_adds_run_out() {
    let quota = Quota::new(3, 100);
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used(Operation::Query).await, 0);

    quota.assert_served(search()).await;
    quota.assert_served(list()).await;
    quota.assert_served(search()).await;
    assert_eq!(quota.used(Operation::Query).await, 3);
    assert_eq!(quota.used(Operation::Add).await, 3);
    quota.assert_degraded(add(), Operation::Add).await;
}

#[tokio::test]
async fn queries_run_out_on_their_own_and_adds_are_still_served() {
    let quota = Quota::new(100, 2);
    quota.assert_served(search()).await;
    quota.assert_served(list()).await;
    quota.assert_degraded(search(), Operation::Query).await;
    quota.assert_degraded(list(), Operation::Query).await;
    assert_eq!(quota.used(Operation::Query).await, 2);

    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
}

#[tokio::test]
async fn a_plan_of_zero_degrades_the_first_request() {
    let quota = Quota::new(0, 0);
    quota.assert_degraded(add(), Operation::Add).await;
    quota.assert_degraded(list(), Operation::Query).await;
    assert_eq!(quota.used(Operation::Add).await, 0);
    assert_eq!(quota.used(Operation::Query).await, 0);
}

/// `adds_per_month = 0` loaded while the README called a 0 in the file an error. A monthly
/// quota of 0 is a real plan (a read-only project): it loads, every add is degraded without
/// calling inside, queries are served, and no alert fires.
#[tokio::test]
async fn a_limit_of_0_is_a_plan_that_allows_nothing() {
    let file = format!(
        "environment = \"development\"\n[[projects]]\nid = \"{PROJECT}\"\n\
         adds_per_month = 0\nqueries_per_month = 2\n"
    );
    let config = memorysync_pipeline::config::Config::from_toml(&file).unwrap();
    assert_eq!(config.projects[0].adds_per_month, 0);
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let fired = Arc::clone(&alerts);
    let quota = Quota::new(0, 0).map(|_| {
        QuotaDegradeLayer::new(QuotaPlans::from_config(&config))
            .with_clock(ManualClock::new(T0))
            .with_alerts(move |alert: &QuotaAlert| fired.lock().unwrap().push(alert.clone()))
    });
    for _ in 0..3 {
        quota.assert_degraded(add(), Operation::Add).await;
    }
    quota.assert_served(search()).await;
    assert_eq!(quota.used(Operation::Add).await, 0);
    assert!(alerts.lock().unwrap().is_empty(), "{alerts:?}");

    let readme = include_str!("../../../README.md");
    assert!(
        readme.contains("`adds_per_month = 0`"),
        "the README says what a monthly quota of 0 means"
    );
}
