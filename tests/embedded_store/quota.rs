//! Quota counters with units reserved on disk in blocks: never over the plan, at most one block
//! forfeited by a store dropped without a clean close, nothing by a clean one; alerts once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memorysync_pipeline::embedded_store::block::block_size;
use memorysync_pipeline::quota::{
    AlertThresholds, Month, Operation, QuotaKey, QuotaStore, Reservation,
};

use crate::{now, open};

fn key() -> QuotaKey {
    QuotaKey {
        project: Arc::from("proj_a"),
        operation: Operation::Add,
        month: Month::of(now()),
    }
}

async fn take(store: &impl QuotaStore, limit: u64) -> Reservation {
    store
        .reserve(&key(), limit, AlertThresholds::standard())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_across_unclean_restarts_never_pass_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let plan = 1_000;
    let served = Arc::new(AtomicU64::new(0));
    let mut counted_before = 0;
    for _round in 0..4 {
        let store = open(dir.path());
        let quotas = store.quotas();
        let restored = quotas.used(&key()).await.unwrap();
        // What the last store forfeited: counted on disk, never served.
        let forfeit = restored - counted_before;
        assert!(
            restored <= plan && forfeit <= block_size(plan),
            "restored {restored} after {counted_before} served"
        );
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (quotas, served) = (quotas.clone(), Arc::clone(&served));
            tasks.push(tokio::spawn(async move {
                for _ in 0..40 {
                    if let Reservation::Reserved { .. } = take(&quotas, plan).await {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        counted_before = quotas.used(&key()).await.unwrap();
        // Dropped without `close`: the blocks reserved ahead stay counted.
    }
    let served = served.load(Ordering::Relaxed);
    assert!(served <= plan, "{served} served on a plan of {plan}");
    let store = open(dir.path());
    assert!(store.quotas().used(&key()).await.unwrap() <= plan);
}

#[tokio::test]
async fn a_clean_close_forfeits_nothing_and_the_plan_holds_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let plan = 250;
    {
        let store = open(dir.path());
        for used in 1..=7 {
            assert!(
                matches!(take(&store.quotas(), plan).await, Reservation::Reserved { used: u, .. } if u == used)
            );
        }
        store.close().await;
    }
    let store = open(dir.path());
    let quotas = store.quotas();
    assert_eq!(quotas.used(&key()).await.unwrap(), 7);
    let mut served = 7;
    while let Reservation::Reserved { .. } = take(&quotas, plan).await {
        served += 1;
    }
    assert_eq!(served, plan);
    assert_eq!(take(&quotas, plan).await, Reservation::Exhausted);
    quotas.refund(&key());
    assert!(
        matches!(take(&quotas, plan).await, Reservation::Reserved { used, .. } if used == plan)
    );
}

#[tokio::test]
async fn each_alert_fires_once_across_restarts_even_when_a_crash_skips_its_unit() {
    let dir = tempfile::tempdir().unwrap();
    // A plan of 400: blocks of 4; 75 % is unit 300.
    let plan = 400;
    let mut fired = Vec::new();
    {
        let store = open(dir.path());
        for _ in 0..298 {
            note(&mut fired, take(&store.quotas(), plan).await);
        }
        // Dropped without close: the counter comes back at its ceiling, past 299 and maybe 300.
    }
    {
        let store = open(dir.path());
        let restored = store.quotas().used(&key()).await.unwrap();
        assert!((298..=302).contains(&restored), "{restored}");
        note(&mut fired, take(&store.quotas(), plan).await);
        assert_eq!(
            fired,
            [75],
            "the 75 % alert fires although its unit was skipped"
        );
        for _ in 0..70 {
            note(&mut fired, take(&store.quotas(), plan).await);
        }
        store.close().await;
    }
    let store = open(dir.path());
    while let Reservation::Reserved { .. } = take(&store.quotas(), plan).await {}
    assert_eq!(
        fired,
        [75, 90],
        "no alert fired twice; 100 % is the store below"
    );
    // The loop above crossed 100 % on this store; its mark is written and survives too.
    store.close().await;
    drop(store);
    let store = open(dir.path());
    let answer = store
        .quotas()
        .reserve(&key(), plan + 1, AlertThresholds::standard())
        .await
        .unwrap();
    assert!(
        matches!(answer, Reservation::Reserved { alerts, .. } if alerts.is_empty()),
        "{answer:?}"
    );
}

fn note(fired: &mut Vec<u8>, answer: Reservation) {
    if let Reservation::Reserved { alerts, .. } = answer {
        fired.extend(alerts.iter());
    }
}
