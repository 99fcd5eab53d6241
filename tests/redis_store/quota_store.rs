//! The quota store suite, run against `MemoryQuotaStore` and `RedisQuotaStore`, and the expiry
//! Redis sets on a month's counters.

use std::future::Future;
use std::sync::Arc;

use memorysync_pipeline::quota::{
    AlertThresholds, MemoryQuotaStore, Month, Operation, QuotaKey, QuotaStore, Reservation,
};
use memorysync_pipeline::redis_store::RedisQuotaStore;
use tokio::sync::Barrier;

use crate::common::redis::{ask, clean_up, connect};

/// What the suite needs besides the trait: refunds may run in the background.
trait SettleRefunds: QuotaStore + Clone {
    fn settle(&self) -> impl Future<Output = ()> + Send;
}

impl SettleRefunds for MemoryQuotaStore {
    async fn settle(&self) {}
}

impl SettleRefunds for RedisQuotaStore {
    async fn settle(&self) {
        self.settle_refunds().await;
    }
}

fn month(number: u8) -> Month {
    Month::new(2027, number).unwrap()
}

fn quota_key(project: &str, operation: Operation, month: Month) -> QuotaKey {
    QuotaKey {
        project: Arc::from(project),
        operation,
        month,
    }
}

fn reserved(used: u64, alerts: &[u8]) -> Reservation {
    Reservation::Reserved {
        used,
        alerts: AlertThresholds::new(alerts.iter().copied()),
    }
}

async fn quota_suite<S: SettleRefunds>(store: S) {
    reserves_up_to_the_limit_then_exhausted(&store).await;
    for round in 0..10 {
        last_unit_goes_to_one_of(&store, 2, round).await;
        last_unit_goes_to_one_of(&store, 8, round).await;
    }
    alerts_fire_once_even_across_refunds(&store).await;
    refunds_never_go_below_zero(&store).await;
    months_operations_and_projects_are_independent(&store).await;
}

async fn reserves_up_to_the_limit_then_exhausted<S: SettleRefunds>(store: &S) {
    let key = quota_key("proj_limit", Operation::Add, month(1));
    assert_eq!(store.used(&key).await.unwrap(), 0);
    for used in 1..=3 {
        let answer = store.reserve(&key, 3, AlertThresholds::NONE).await.unwrap();
        assert_eq!(answer, reserved(used, &[]));
    }
    for _ in 0..2 {
        let answer = store.reserve(&key, 3, AlertThresholds::NONE).await.unwrap();
        assert_eq!(answer, Reservation::Exhausted);
        assert_eq!(store.used(&key).await.unwrap(), 3);
    }
    // A limit of zero is exhausted from the start and counts nothing.
    let free = quota_key("proj_zero", Operation::Query, month(1));
    let answer = store
        .reserve(&free, 0, AlertThresholds::standard())
        .await
        .unwrap();
    assert_eq!(answer, Reservation::Exhausted);
    assert_eq!(store.used(&free).await.unwrap(), 0);
}

async fn last_unit_goes_to_one_of<S: SettleRefunds>(store: &S, tasks: usize, round: usize) {
    let key = quota_key(
        &format!("proj_race_{tasks}_{round}"),
        Operation::Add,
        month(2),
    );
    let limit = 5;
    for _ in 1..limit {
        store
            .reserve(&key, limit, AlertThresholds::NONE)
            .await
            .unwrap();
    }
    let start = Arc::new(Barrier::new(tasks));
    let racers: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, key, start) = (store.clone(), key.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                store
                    .reserve(&key, limit, AlertThresholds::NONE)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Reservation::Reserved { used, .. } => {
                assert_eq!(used, limit);
                winners += 1;
            }
            Reservation::Exhausted => {}
        }
    }
    assert_eq!(winners, 1, "{tasks} tasks raced for the last unit");
    assert_eq!(store.used(&key).await.unwrap(), limit);
}

async fn alerts_fire_once_even_across_refunds<S: SettleRefunds>(store: &S) {
    let thresholds = AlertThresholds::standard();
    let key = quota_key("proj_alerts", Operation::Query, month(3));
    // Of 4 units, the third crosses 75% and the fourth 90% and 100% together.
    let answers = [
        reserved(1, &[]),
        reserved(2, &[]),
        reserved(3, &[75]),
        reserved(4, &[90, 100]),
    ];
    for expected in answers {
        assert_eq!(store.reserve(&key, 4, thresholds).await.unwrap(), expected);
    }
    // Back below every threshold, then over them again: no alert fires twice.
    store.refund(&key);
    store.refund(&key);
    store.settle().await;
    assert_eq!(store.used(&key).await.unwrap(), 2);
    for used in 3..=4 {
        assert_eq!(
            store.reserve(&key, 4, thresholds).await.unwrap(),
            reserved(used, &[])
        );
    }
    assert_eq!(
        store.reserve(&key, 4, thresholds).await.unwrap(),
        Reservation::Exhausted
    );
    // The marks belong to the month: the next one alerts again, one unit at a time on 100.
    let next = quota_key("proj_alerts", Operation::Query, month(4));
    let mut fired = Vec::new();
    for _ in 0..100 {
        match store.reserve(&next, 100, thresholds).await.unwrap() {
            Reservation::Reserved { used, alerts } if !alerts.is_empty() => {
                fired.push((used, alerts.iter().collect::<Vec<_>>()));
            }
            Reservation::Reserved { .. } => {}
            Reservation::Exhausted => panic!("exhausted before the limit"),
        }
    }
    assert_eq!(
        fired,
        vec![(75, vec![75]), (90, vec![90]), (100, vec![100])]
    );
}

async fn refunds_never_go_below_zero<S: SettleRefunds>(store: &S) {
    let key = quota_key("proj_refund", Operation::Add, month(5));
    store.refund(&key);
    store.settle().await;
    assert_eq!(store.used(&key).await.unwrap(), 0);
    store
        .reserve(&key, 10, AlertThresholds::NONE)
        .await
        .unwrap();
    for _ in 0..3 {
        store.refund(&key);
    }
    store.settle().await;
    assert_eq!(store.used(&key).await.unwrap(), 0);
    assert_eq!(
        store
            .reserve(&key, 10, AlertThresholds::NONE)
            .await
            .unwrap(),
        reserved(1, &[])
    );
}

async fn months_operations_and_projects_are_independent<S: SettleRefunds>(store: &S) {
    let none = AlertThresholds::NONE;
    let january = quota_key("proj_months", Operation::Add, month(1));
    assert_eq!(
        store.reserve(&january, 1, none).await.unwrap(),
        reserved(1, &[])
    );
    assert_eq!(
        store.reserve(&january, 1, none).await.unwrap(),
        Reservation::Exhausted
    );
    for other in [
        quota_key("proj_months", Operation::Add, Month::new(2026, 1).unwrap()),
        quota_key("proj_months", Operation::Add, month(2)),
        quota_key("proj_months", Operation::Query, month(1)),
        quota_key("proj_months_2", Operation::Add, month(1)),
    ] {
        assert_eq!(
            store.reserve(&other, 1, none).await.unwrap(),
            reserved(1, &[])
        );
    }
    assert_eq!(store.used(&january).await.unwrap(), 1);
    // Ids that a store might write alike into keys still count apart.
    let projects = ["p:1", "p%3A1", "p", "p:1:add", "p*", "p?"];
    for (i, project) in projects.iter().enumerate() {
        let key = quota_key(project, Operation::Add, month(6));
        for _ in 0..=i {
            store.reserve(&key, 100, none).await.unwrap();
        }
    }
    for (i, project) in projects.iter().enumerate() {
        let key = quota_key(project, Operation::Add, month(6));
        assert_eq!(store.used(&key).await.unwrap(), i as u64 + 1, "{project}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_quota_store_passes_the_suite() {
    quota_suite(MemoryQuotaStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_quota_store_passes_the_suite() {
    let Some(connection) = connect("quota").await else {
        return;
    };
    quota_suite(RedisQuotaStore::new(connection.clone())).await;
    clean_up(&connection).await;
}

#[tokio::test]
async fn redis_quota_keys_expire_after_two_months() {
    let Some(connection) = connect("quota_ttl").await else {
        return;
    };
    let store = RedisQuotaStore::new(connection.clone());
    let key = quota_key("proj:ttl", Operation::Add, month(7));
    let answer = store
        .reserve(&key, 1, AlertThresholds::standard())
        .await
        .unwrap();
    assert_eq!(answer, reserved(1, &[75, 90, 100]));
    let sixty_two_days = 62 * 86_400;
    for parts in [
        vec!["quota", "proj%3Attl", "add", "2027-07"],
        vec!["alert", "proj%3Attl", "add", "2027-07", "75"],
        vec!["alert", "proj%3Attl", "add", "2027-07", "100"],
    ] {
        let ttl = ask(&connection, "TTL", &parts).await;
        assert!(
            (sixty_two_days - 60..=sixty_two_days).contains(&ttl),
            "{parts:?}: {ttl}"
        );
    }
    // A refund keeps the expiry.
    store.refund(&key);
    store.settle_refunds().await;
    assert!(
        ask(
            &connection,
            "TTL",
            &["quota", "proj%3Attl", "add", "2027-07"]
        )
        .await
            > 0
    );
    assert_eq!(store.used(&key).await.unwrap(), 0);
    clean_up(&connection).await;
}
