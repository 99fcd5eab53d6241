//! The tombstone suite, run against `MemoryTombstones` and `RedisTombstones`, and the expiries:
//! by the clock in memory, by Redis's own TTL on Redis.

use std::time::Duration;

use memorysync_pipeline::clock::{Clock, SystemClock, Timestamp};
use memorysync_pipeline::redis_store::RedisTombstones;
use memorysync_pipeline::tombstone::{MemoryTombstones, TombstoneKind, TombstoneStore};

use crate::common::redis::{ask, clean_up, connect};
use crate::secs;

/// Leaves and finds tombstones; the store keeps them an hour.
async fn tombstone_suite<S: TombstoneStore>(store: S) {
    let now = SystemClock.now();
    let kind = TombstoneKind::Memory;
    assert!(!store.contains(kind, "mem_1", now).await.unwrap());
    store.leave(kind, "mem_1", now).await.unwrap();
    assert!(store.contains(kind, "mem_1", now).await.unwrap());
    assert!(!store.contains(kind, "mem_2", now).await.unwrap());
    assert!(
        !store
            .contains(TombstoneKind::ApiKeyId, "mem_1", now)
            .await
            .unwrap()
    );
    // Leaving again is harmless, and an earlier instant does not shorten the tombstone.
    store.leave(kind, "mem_1", now).await.unwrap();
    store
        .leave(kind, "mem_1", now.saturating_sub(secs(1800)))
        .await
        .unwrap();
    assert!(store.contains(kind, "mem_1", now).await.unwrap());
    // A deletion older than the period leaves nothing standing.
    store
        .leave(kind, "mem_old", now.saturating_sub(secs(7200)))
        .await
        .unwrap();
    assert!(!store.contains(kind, "mem_old", now).await.unwrap());
    // Ids with separators stay apart.
    store.leave(kind, "a:b", now).await.unwrap();
    assert!(store.contains(kind, "a:b", now).await.unwrap());
    assert!(!store.contains(kind, "a%3Ab", now).await.unwrap());
    assert!(!store.contains(kind, "a", now).await.unwrap());
}

#[tokio::test]
async fn memory_tombstones_pass_the_suite() {
    tombstone_suite(MemoryTombstones::new(secs(3600))).await;
}

#[tokio::test]
async fn memory_tombstones_expire() {
    let tombstones = MemoryTombstones::new(secs(1));
    let now = SystemClock.now();
    tombstones
        .leave(TombstoneKind::Memory, "mem_1", now)
        .await
        .unwrap();
    let kind = TombstoneKind::Memory;
    let almost = now.saturating_add(Duration::from_millis(999));
    assert!(tombstones.contains(kind, "mem_1", almost).await.unwrap());
    let after = now.saturating_add(secs(1));
    assert!(!tombstones.contains(kind, "mem_1", after).await.unwrap());
    assert_eq!(tombstones.purge_expired(after).await.unwrap(), 1);
}

#[tokio::test]
async fn redis_tombstones_pass_the_suite() {
    let Some(connection) = connect("tombstones").await else {
        return;
    };
    tombstone_suite(RedisTombstones::new(connection.clone(), secs(3600))).await;
    // The earlier instant left above did not shorten the tombstone.
    let pttl = ask(&connection, "PTTL", &["tomb", "memory", "mem_1"]).await;
    assert!(pttl > 3_000_000, "{pttl}");
    clean_up(&connection).await;
}

#[tokio::test]
async fn redis_tombstones_expire_by_redis_ttl() {
    let Some(connection) = connect("tombstones_ttl").await else {
        return;
    };
    let tombstones = RedisTombstones::new(connection.clone(), secs(1));
    let now: Timestamp = SystemClock.now();
    let kind = TombstoneKind::ApiKeyHash;
    tombstones.leave(kind, "abc", now).await.unwrap();
    assert!(tombstones.contains(kind, "abc", now).await.unwrap());
    let ttl = ask(&connection, "TTL", &["tomb", "key_hash", "abc"]).await;
    assert!((1..=1).contains(&ttl), "TTL {ttl}");
    let pttl = ask(&connection, "PTTL", &["tomb", "key_hash", "abc"]).await;
    assert!(pttl > 0 && pttl <= 1000, "PTTL {pttl}");
    assert_eq!(tombstones.purge_expired(now).await.unwrap(), 0);
    clean_up(&connection).await;
}
