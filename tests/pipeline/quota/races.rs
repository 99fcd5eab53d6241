//! Races for the last unit: never served twice, and exactly the limit under a burst.

use super::*;

/// `racers` adds sent at once on a multi-threaded runtime, after `prefill` sequential ones, to
/// a plan of `limit` adds: returns how many were served and how many degraded.
async fn race(limit: u64, prefill: u64, racers: usize) -> (Quota, usize, usize) {
    let quota = Quota::new(limit, 1);
    for _ in 0..prefill {
        quota.assert_served(add()).await;
    }
    let service = quota.layer.layer(quota.backend.service());
    let barrier = Arc::new(Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|_| {
            let service = service.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                exchange(service, add()).await.unwrap()
            })
        })
        .collect();
    let (mut served, mut degraded) = (0, 0);
    for task in tasks {
        let outcome = task.await.unwrap();
        if outcome.degraded().is_some() {
            assert_degraded(&outcome, Operation::Add);
            degraded += 1;
        } else {
            assert_served(&outcome);
            served += 1;
        }
    }
    (quota, served, degraded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_racers_for_the_last_unit_never_both_get_it() {
    for _ in 0..200 {
        let (quota, served, degraded) = race(5, 4, 2).await;
        assert_eq!((served, degraded), (1, 1));
        assert_eq!(quota.backend.calls(), 5);
        assert_eq!(quota.used(Operation::Add).await, 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_racers_for_the_last_unit_never_both_get_it() {
    for _ in 0..100 {
        let (quota, served, degraded) = race(5, 4, 8).await;
        assert_eq!((served, degraded), (1, 7));
        assert_eq!(quota.backend.calls(), 5);
        assert_eq!(quota.used(Operation::Add).await, 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_times_the_limit_at_once_serves_exactly_the_limit() {
    for limit in [1, 2, 8, 50] {
        let racers = usize::try_from(limit * 4).unwrap();
        let (quota, served, degraded) = race(limit, 0, racers).await;
        let limit_calls = usize::try_from(limit).unwrap();
        assert_eq!(served, limit_calls, "limit {limit}");
        assert_eq!(degraded, racers - limit_calls, "limit {limit}");
        assert_eq!(quota.backend.calls(), limit_calls, "limit {limit}");
        assert_eq!(quota.used(Operation::Add).await, limit, "limit {limit}");
    }
}
