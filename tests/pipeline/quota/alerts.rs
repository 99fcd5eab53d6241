//! Usage alerts: once per threshold and month, under concurrency and refunds.

use super::*;

type Alerts = Arc<Mutex<Vec<QuotaAlert>>>;

/// A quota whose alerts are collected.
fn alerting(adds: u64, queries: u64) -> (Quota, Alerts) {
    let alerts = Alerts::default();
    let sink = Arc::clone(&alerts);
    let quota = Quota::new(adds, queries).map(|layer| {
        layer.with_alerts(move |alert: &QuotaAlert| sink.lock().unwrap().push(alert.clone()))
    });
    (quota, alerts)
}

/// The alerts so far, in the order they fired. A copy, so that no assertion (or its message)
/// holds the lock.
fn fired(alerts: &Alerts) -> Vec<QuotaAlert> {
    alerts.lock().unwrap().clone()
}

/// The alerts so far, by month and threshold: concurrent requests push them in any order.
fn sorted(alerts: &Alerts) -> Vec<QuotaAlert> {
    let mut alerts = fired(alerts);
    alerts.sort_by_key(|a| (a.month, a.operation, a.threshold));
    alerts
}

fn alert(month: Month, threshold: u8, used: u64, limit: u64) -> QuotaAlert {
    QuotaAlert {
        project: PROJECT.into(),
        operation: Operation::Add,
        month,
        threshold,
        used,
        limit,
    }
}

/// `count` adds at once on `quota`'s service; returns how many were served.
async fn burst(quota: &Quota, count: usize) -> usize {
    let service = quota.layer.layer(quota.backend.service());
    let barrier = Arc::new(Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let service = service.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                exchange(service, add()).await.unwrap()
            })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        if task.await.unwrap().degraded().is_none() {
            served += 1;
        }
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_fire_once_each_under_concurrency() {
    let (quota, alerts) = alerting(100, 1000);
    assert_eq!(burst(&quota, 400).await, 100);
    let jan = month(2027, 1);
    let fired = sorted(&alerts);
    assert_eq!(
        fired,
        vec![
            alert(jan, 75, 75, 100),
            alert(jan, 90, 90, 100),
            alert(jan, 100, 100, 100)
        ]
    );
    let events: Vec<_> = fired.iter().map(QuotaAlert::event_type).collect();
    assert_eq!(
        events,
        ["quota.threshold", "quota.threshold", "quota.exhausted"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_at_the_top_and_a_second_crossing_do_not_fire_again_the_same_month() {
    let (quota, alerts) = alerting(100, 1000);
    assert_eq!(burst(&quota, 400).await, 100);
    assert_eq!(fired(&alerts).len(), 3, "{:?}", sorted(&alerts));
    let jan = key(PROJECT, Operation::Add, month(2027, 1));

    // The unit at the top goes back (as a failed call's would), then is taken again by a call
    // that fails with a 5xx, then by one that is served: 100% is crossed twice more.
    quota.layer.store().refund(&jan);
    assert_eq!(quota.used(Operation::Add).await, 99);
    quota.backend.status(503);
    assert_eq!(quota.send(add()).await.status(), 503);
    assert_eq!(quota.used(Operation::Add).await, 99);
    quota.backend.status(200);
    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 100);
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(fired(&alerts).len(), 3, "{:?}", sorted(&alerts));

    // A new month counts and alerts afresh.
    quota.set("2027-02-01T00:00:00Z");
    assert_eq!(burst(&quota, 400).await, 100);
    let feb = month(2027, 2);
    let fired = sorted(&alerts);
    assert_eq!(fired.len(), 6, "{fired:?}");
    assert_eq!(
        fired[3..],
        [
            alert(feb, 75, 75, 100),
            alert(feb, 90, 90, 100),
            alert(feb, 100, 100, 100)
        ]
    );
}

#[tokio::test]
async fn the_third_add_of_a_three_unit_plan_fires_75_90_and_100_together() {
    let (quota, alerts) = alerting(3, 100);
    quota.assert_served(add()).await;
    quota.assert_served(add()).await;
    assert_eq!(fired(&alerts), []);
    quota.assert_served(add()).await;
    let jan = month(2027, 1);
    assert_eq!(
        fired(&alerts),
        [
            alert(jan, 75, 3, 3),
            alert(jan, 90, 3, 3),
            alert(jan, 100, 3, 3)
        ]
    );
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(fired(&alerts).len(), 3);
}

#[tokio::test]
async fn a_plans_own_thresholds_replace_the_defaults() {
    let alerts = Alerts::default();
    let sink = Arc::clone(&alerts);
    let clock = ManualClock::new(T0);
    let plans = QuotaPlans::new()
        .with_plan(
            PROJECT,
            Plan {
                alert_thresholds: AlertThresholds::new([50]),
                ..Plan::new(4, 4)
            },
        )
        .with_plan(
            "proj_quiet",
            Plan {
                alert_thresholds: AlertThresholds::NONE,
                ..Plan::new(1, 1)
            },
        );
    let layer = QuotaDegradeLayer::new(plans)
        .with_clock(clock)
        .with_alerts(move |alert: &QuotaAlert| sink.lock().unwrap().push(alert.clone()));
    let backend = Backend::new();
    let send = |request| exchange(layer.layer(backend.service()), request);
    for _ in 0..5 {
        send(add()).await.unwrap();
        send(scoped_to("proj_quiet", Method::POST, "/v1/memories"))
            .await
            .unwrap();
    }
    assert_eq!(fired(&alerts), [alert(month(2027, 1), 50, 2, 4)]);
    assert_eq!(fired(&alerts)[0].event_type(), "quota.threshold");
}

#[tokio::test]
async fn query_alerts_name_the_query_operation() {
    let (quota, alerts) = alerting(100, 4);
    for _ in 0..3 {
        quota.assert_served(search()).await;
    }
    let fired = sorted(&alerts);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].operation, Operation::Query);
    assert_eq!(
        (fired[0].threshold, fired[0].used, fired[0].limit),
        (75, 3, 4)
    );
}
