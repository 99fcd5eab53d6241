//! The epoch marker between processes, one connection standing for each, under a prefix of its
//! own on the shared Redis: deleting the prefix's keys is what a `FLUSHALL` does to it.

use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::redis_store::{EpochOrigin, EpochStart, RedisConnection, RedisOptions};

use crate::common::redis::TestPrefix;

/// A connection on `prefix`, standing for one process.
async fn process(prefix: &TestPrefix) -> RedisConnection {
    prefix.connect().await
}

/// What `FLUSHALL` does to the prefix. (Not `clean_up`, which checks that nothing is left: a
/// watcher may leave its loss note at once.)
fn flush(prefix: &TestPrefix) {
    let keys = prefix.keys();
    let mut connection = redis::Client::open(prefix.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: usize = redis::cmd("DEL").arg(keys).query(&mut connection).unwrap();
}

async fn health(connection: &RedisConnection) -> String {
    use memorysync_pipeline::health::{CheckStatus, HealthCheck};
    match connection.health_check().check().await {
        CheckStatus::Ok => "ok".into(),
        CheckStatus::Degraded(why) => why.into_owned(),
    }
}

#[tokio::test]
async fn the_first_start_seeds_a_later_one_joins_and_an_instance_starting_after_a_reported_loss_seeds_nothing()
 {
    let Some(prefix) = TestPrefix::new("epoch-start") else {
        return;
    };
    let a = process(&prefix).await;
    let EpochStart::Seeded(seeded) = a.watch_epoch().await.unwrap() else {
        panic!("an empty Redis is a first start");
    };
    assert_eq!(seeded.origin(), EpochOrigin::FirstStart);
    assert_eq!(seeded.id().len(), 32);
    let b = process(&prefix).await;
    assert_eq!(
        b.watch_epoch().await.unwrap(),
        EpochStart::Joined(seeded.clone())
    );
    assert_eq!(health(&a).await, "ok");

    flush(&prefix);
    assert_eq!(
        health(&a).await,
        "data_lost",
        "the probe looks at the marker"
    );
    assert!(a.data_lost());
    let marker = a.epoch_marker().await.unwrap();
    assert_eq!(marker.epoch, None);
    assert!(marker.loss_reported_at.is_some(), "a left a loss note");

    // A process starting now must not seed over the loss a has reported.
    let c = process(&prefix).await;
    assert_eq!(c.watch_epoch().await.unwrap(), EpochStart::Lost);
    assert!(c.data_lost());
    assert_eq!(health(&c).await, "data_lost");
    assert_eq!(
        c.epoch_marker().await.unwrap().epoch,
        None,
        "nothing seeded"
    );
    assert_eq!(health(&b).await, "data_lost");

    // A reseed: every process adopts the new epoch, whatever it started on.
    let operator = process(&prefix).await;
    let reseeded = operator.reseed_epoch().await.unwrap();
    assert_eq!(reseeded.origin(), EpochOrigin::Reseed);
    assert!(reseeded.seeded_at() >= seeded.seeded_at());
    for (name, process) in [("a", &a), ("b", &b), ("c", &c)] {
        assert_eq!(health(process).await, "ok", "{name} adopted the reseed");
        assert!(!process.data_lost(), "{name}");
    }
    let marker = operator.epoch_marker().await.unwrap();
    assert_eq!(
        (marker.epoch, marker.loss_reported_at),
        (Some(reseeded), None)
    );
}

#[tokio::test]
async fn an_instance_that_seeded_over_an_unnoticed_flush_learns_of_the_loss_from_the_one_that_noticed()
 {
    let Some(prefix) = TestPrefix::new("epoch-race") else {
        return;
    };
    let old = process(&prefix).await;
    assert!(matches!(
        old.watch_epoch().await.unwrap(),
        EpochStart::Seeded(_)
    ));
    flush(&prefix);
    // Started before any instance looked: an empty Redis looks like a first start.
    let new = process(&prefix).await;
    assert!(matches!(
        new.watch_epoch().await.unwrap(),
        EpochStart::Seeded(_)
    ));
    assert_eq!(health(&new).await, "ok");
    // The old instance finds another epoch that no reseed wrote: lost, and it says so.
    assert_eq!(health(&old).await, "data_lost");
    assert_eq!(
        health(&new).await,
        "data_lost",
        "the loss note reaches the instance that seeded over it"
    );
}

#[tokio::test]
async fn a_reseed_older_than_the_epoch_a_process_runs_on_is_a_stale_copy_not_a_restore() {
    let Some(prefix) = TestPrefix::new("epoch-stale") else {
        return;
    };
    let operator = process(&prefix).await;
    operator.watch_epoch().await.unwrap();
    let current = operator.reseed_epoch().await.unwrap();
    let running = process(&prefix).await;
    assert!(matches!(running.watch_epoch().await.unwrap(), EpochStart::Joined(e) if e == current));

    // A replica promoted with the marker of an earlier reseed.
    let earlier = current.seeded_at().unix_millis() - 60_000;
    let mut manager = operator.manager();
    let _: () = redis::cmd("HSET")
        .arg(operator.key(&["epoch"]))
        .arg(&["id", "0123456789abcdef0123456789abcdef", "origin", "reseed"])
        .arg("seeded_at")
        .arg(earlier)
        .query_async(&mut manager)
        .await
        .unwrap();
    assert_eq!(health(&running).await, "data_lost");
    let marker = operator.epoch_marker().await.unwrap();
    assert_eq!(
        marker.epoch.map(|e| e.seeded_at()),
        Some(Timestamp::from_unix_millis(earlier))
    );
    assert!(marker.loss_reported_at.is_some());
}

#[tokio::test]
async fn a_connection_that_watches_no_epoch_checks_nothing_and_only_pings() {
    let Some(prefix) = TestPrefix::new("epoch-unwatched") else {
        return;
    };
    let options = RedisOptions {
        prefix: prefix.prefix.clone(),
        ..RedisOptions::default()
    };
    let tool = RedisConnection::connect(&prefix.url, options)
        .await
        .unwrap();
    assert_eq!(health(&tool).await, "ok");
    assert!(!tool.data_lost());
    assert!(
        prefix.keys().is_empty(),
        "nothing written: {:?}",
        prefix.keys()
    );
}
