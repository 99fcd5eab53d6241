//! The generic store suites (quota, keys, tombstones), each run against the in-memory store and
//! the Redis store, plus what only Redis has: expiries set by Redis and usage shared between
//! instances.
//!
//! The Redis runs need `MEMORYSYNC_TEST_REDIS_URL` (CI sets `redis://127.0.0.1:6379`); without
//! it they print `skipped: ...` and pass. Each test works under its own key prefix and deletes its
//! keys at the end. No test waits in real time.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, SystemClock, Timestamp};
use memorysync_pipeline::key::{
    KeyHash, KeyRecord, KeyStore, KeyStoreError, KeyUsage, MemoryKeyStore,
};
use memorysync_pipeline::quota::{
    AlertThresholds, MemoryQuotaStore, Month, Operation, QuotaKey, QuotaStore, Reservation,
};
use memorysync_pipeline::redis_store::{
    RedisConnection, RedisKeyStore, RedisOptions, RedisQuotaStore, RedisTombstones,
};
use memorysync_pipeline::tombstone::{MemoryTombstones, TombstoneKind, TombstoneStore};
use tokio::sync::Barrier;

// ----- Redis harness -------------------------------------------------------------------------

/// A connection under a prefix of its own, or `None` (after saying so) without a test Redis.
async fn redis(test: &str) -> Option<RedisConnection> {
    let Ok(url) = std::env::var("MEMORYSYNC_TEST_REDIS_URL") else {
        println!("skipped: MEMORYSYNC_TEST_REDIS_URL is not set");
        return None;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let options = RedisOptions {
        prefix: format!("test:{test}-{}-{nanos}:", std::process::id()),
        ..Default::default()
    };
    Some(RedisConnection::connect(&url, options).await.unwrap())
}

/// Every key under the connection's prefix.
async fn keys_of(connection: &RedisConnection) -> Vec<String> {
    let pattern = format!("{}*", connection.options().prefix);
    let mut manager = connection.manager();
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(&mut manager)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Deletes the test's keys and checks none is left.
async fn clean_up(connection: &RedisConnection) {
    let keys = keys_of(connection).await;
    if !keys.is_empty() {
        let mut manager = connection.manager();
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut manager)
            .await
            .unwrap();
    }
    assert!(keys_of(connection).await.is_empty());
}

/// `command key` on a key under the prefix, e.g. `TTL`.
async fn ask(connection: &RedisConnection, command: &str, parts: &[&str]) -> i64 {
    let mut manager = connection.manager();
    redis::cmd(command)
        .arg(connection.key(parts))
        .query_async(&mut manager)
        .await
        .unwrap()
}

// ----- Quota suite ---------------------------------------------------------------------------

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
    let Some(connection) = redis("quota").await else {
        return;
    };
    quota_suite(RedisQuotaStore::new(connection.clone())).await;
    clean_up(&connection).await;
}

#[tokio::test]
async fn redis_quota_keys_expire_after_two_months() {
    let Some(connection) = redis("quota_ttl").await else {
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

// ----- Key suite -----------------------------------------------------------------------------

/// What the suite needs besides the trait: usage may be written in the background.
trait FlushUsage: KeyStore {
    fn flush(&self) -> impl Future<Output = ()> + Send;
}

impl FlushUsage for MemoryKeyStore {
    async fn flush(&self) {}
}

impl FlushUsage for RedisKeyStore {
    async fn flush(&self) {
        self.flush_usage().await.unwrap();
    }
}

fn hash(n: u8) -> KeyHash {
    KeyHash::from_bytes([n; 32])
}

fn record(id: &str, n: u8) -> KeyRecord {
    KeyRecord::new(id, hash(n), "proj:demo", Environment::Development)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

async fn key_suite<S: FlushUsage>(store: S) {
    let now = SystemClock.now();

    // Insert and find; the record comes back whole.
    let a = record("key_a", 1)
        .with_limits(Some(5), Some(100))
        .with_expiry(now.saturating_add(secs(30 * 86_400)));
    store.insert(a.clone(), now).await.unwrap();
    let entry = store.find_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!(entry.record(), &a);
    assert!(store.find_by_hash(&hash(99)).await.unwrap().is_none());

    // Duplicates are refused, and a refused insert leaves nothing behind.
    assert_eq!(
        store.insert(record("key_a", 2), now).await,
        Err(KeyStoreError::DuplicateId(Arc::from("key_a")))
    );
    assert_eq!(
        store.insert(record("key_b", 1), now).await,
        Err(KeyStoreError::DuplicateHash {
            id: Arc::from("key_b"),
            existing: Arc::from("key_a"),
        })
    );
    store.insert(record("key_b", 2), now).await.unwrap();
    assert_eq!(
        store
            .find_by_hash(&hash(2))
            .await
            .unwrap()
            .unwrap()
            .record()
            .id
            .as_ref(),
        "key_b"
    );
    assert_eq!(
        store
            .find_by_hash(&hash(1))
            .await
            .unwrap()
            .unwrap()
            .record(),
        &a
    );

    // Usage: counted on the entry, last use never moving backwards; one entry per key.
    let never = KeyUsage {
        request_count: 0,
        last_used: None,
    };
    assert_eq!(store.usage("key_a").await.unwrap(), never);
    for at in [1, 3, 2] {
        store.record_use(&entry, now.saturating_add(secs(at)));
    }
    let again = store.find_by_hash(&hash(1)).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&entry, &again));
    let used = KeyUsage {
        request_count: 3,
        last_used: Some(now.saturating_add(secs(3))),
    };
    assert_eq!(store.usage("key_a").await.unwrap(), used);
    store.flush().await;
    assert_eq!(store.usage("key_a").await.unwrap(), used);
    store.flush().await;
    assert_eq!(store.usage("key_a").await.unwrap(), used, "flushed twice");
    assert_eq!(store.usage("key_b").await.unwrap(), never);

    // Revoking keeps the record (revoked) and its usage; a second revocation keeps the first instant.
    let revoked_at = now.saturating_add(secs(10));
    store.revoke("key_a", revoked_at).await.unwrap();
    store
        .revoke("key_a", now.saturating_add(secs(20)))
        .await
        .unwrap();
    let revoked = store.find_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!(revoked.record().revoked_at, Some(revoked_at));
    assert!(revoked.record().is_revoked(revoked_at));
    assert_eq!(
        revoked.record(),
        &KeyRecord {
            revoked_at: Some(revoked_at),
            ..a.clone()
        }
    );
    store.flush().await;
    assert_eq!(store.usage("key_a").await.unwrap(), used);

    // Its tombstones refuse a restore under a new id or with a new hash.
    assert_eq!(
        store.insert(record("key_restored", 1), now).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_restored")))
    );
    assert_eq!(
        store.insert(record("key_a", 3), now).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_a")))
    );
    // A record inserted already revoked leaves tombstones too.
    let c = KeyRecord {
        revoked_at: Some(now),
        ..record("key_c", 4)
    };
    store.insert(c.clone(), now).await.unwrap();
    assert_eq!(
        store
            .find_by_hash(&hash(4))
            .await
            .unwrap()
            .unwrap()
            .record(),
        &c
    );
    assert_eq!(
        store.insert(record("key_d", 4), now).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_d")))
    );

    // Unknown ids; ids with key separators stay apart.
    assert_eq!(
        store.revoke("key_nope", now).await,
        Err(KeyStoreError::UnknownKey(Arc::from("key_nope")))
    );
    assert_eq!(
        store.usage("key_nope").await,
        Err(KeyStoreError::UnknownKey(Arc::from("key_nope")))
    );
    store.insert(record("key:e", 5), now).await.unwrap();
    assert_eq!(
        store.usage("key%3Ae").await,
        Err(KeyStoreError::UnknownKey(Arc::from("key%3Ae")))
    );
    store.insert(record("key%3Ae", 6), now).await.unwrap();
}

#[tokio::test]
async fn memory_key_store_passes_the_suite() {
    key_suite(MemoryKeyStore::new()).await;
}

#[tokio::test]
async fn redis_key_store_passes_the_suite() {
    let Some(connection) = redis("keys").await else {
        return;
    };
    key_suite(RedisKeyStore::new(connection.clone())).await;
    clean_up(&connection).await;
}

#[tokio::test]
async fn redis_key_usage_is_shared_between_instances() {
    let Some(connection) = redis("keys_shared").await else {
        return;
    };
    let now = SystemClock.now();
    let here = RedisKeyStore::new(connection.clone());
    let there = RedisKeyStore::new(connection.clone());
    here.insert(record("key_a", 1), now).await.unwrap();
    let on_here = here.find_by_hash(&hash(1)).await.unwrap().unwrap();
    let on_there = there.find_by_hash(&hash(1)).await.unwrap().unwrap();
    here.record_use(&on_here, now.saturating_add(secs(5)));
    here.record_use(&on_here, now.saturating_add(secs(5)));
    there.record_use(&on_there, now.saturating_add(secs(1)));

    // Before a flush each instance sees only its own uses.
    assert_eq!(there.usage("key_a").await.unwrap().request_count, 1);
    here.flush_usage().await.unwrap();
    there.flush_usage().await.unwrap();
    let total = KeyUsage {
        request_count: 3,
        last_used: Some(now.saturating_add(secs(5))),
    };
    assert_eq!(here.usage("key_a").await.unwrap(), total);
    assert_eq!(there.usage("key_a").await.unwrap(), total);
    let mut manager = connection.manager();
    let stored: u64 = redis::cmd("HGET")
        .arg(connection.key(&["key", "hash", &hash(1).to_hex()]))
        .arg("count")
        .query_async(&mut manager)
        .await
        .unwrap();
    assert_eq!(stored, 3);

    // A request still holding the entry from before a revocation is counted too.
    here.revoke("key_a", now).await.unwrap();
    let revoked = here.find_by_hash(&hash(1)).await.unwrap().unwrap();
    assert!(!Arc::ptr_eq(&on_here, &revoked));
    here.record_use(&on_here, now.saturating_add(secs(6)));
    assert_eq!(here.usage("key_a").await.unwrap().request_count, 4);
    here.flush_usage().await.unwrap();
    assert_eq!(there.usage("key_a").await.unwrap().request_count, 4);
    clean_up(&connection).await;
}

// ----- Tombstone suite -----------------------------------------------------------------------

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
    let Some(connection) = redis("tombstones").await else {
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
    let Some(connection) = redis("tombstones_ttl").await else {
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
