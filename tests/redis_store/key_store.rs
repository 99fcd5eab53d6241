//! The key store suite, run against `MemoryKeyStore` and `RedisKeyStore`, and usage counted by
//! two instances on one Redis.

use std::future::Future;
use std::sync::Arc;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::key::{
    KeyHash, KeyRecord, KeyStore, KeyStoreError, KeyUsage, MemoryKeyStore,
};
use memorysync_pipeline::redis_store::RedisKeyStore;

use crate::common::redis::{clean_up, connect};
use crate::secs;

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
    let Some(connection) = connect("keys").await else {
        return;
    };
    key_suite(RedisKeyStore::new(connection.clone())).await;
    clean_up(&connection).await;
}

#[tokio::test]
async fn redis_key_usage_is_shared_between_instances() {
    let Some(connection) = connect("keys_shared").await else {
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
