//! Key records, revocations, tombstones and usage across restarts.

use std::sync::Arc;
use std::time::Duration;

use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::embedded_store::{EmbeddedError, EmbeddedOptions, EmbeddedStore};
use memorysync_pipeline::key::{KeyHash, KeyStore, KeyStoreError};
use memorysync_pipeline::tombstone::{TombstoneKind, TombstoneStore};

use crate::{now, open, record};

/// A record with a limit and a window of its own.
fn live_record() -> memorysync_pipeline::key::KeyRecord {
    record("key_live", 1)
        .with_limits(Some(5), None)
        .with_windows(Some(Duration::from_secs(4)), None)
}

#[tokio::test]
async fn records_revocations_and_tombstones_survive_a_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let keys = store.keys();
        keys.insert(live_record(), now()).await.unwrap();
        keys.insert(record("key_gone", 2), now()).await.unwrap();
        keys.revoke("key_gone", now()).await.unwrap();
        store
            .tombstones()
            .leave(TombstoneKind::Memory, "mem_1", now())
            .await
            .unwrap();
        // Dropped without `close`: only what was committed before each call returned is there.
    }
    let store = open(dir.path());
    let keys = store.keys();
    let live = keys.find_by_hash(&KeyHash::from_bytes([1; 32])).await;
    let live = live.unwrap().unwrap();
    assert_eq!(live.record(), &live_record());
    let gone = keys.find_by_hash(&KeyHash::from_bytes([2; 32])).await;
    assert!(gone.unwrap().unwrap().record().is_revoked(now()));
    let tombstones = store.tombstones();
    assert!(
        tombstones
            .contains(TombstoneKind::Memory, "mem_1", now())
            .await
            .unwrap()
    );
    assert!(
        tombstones
            .contains(TombstoneKind::ApiKeyId, "key_gone", now())
            .await
            .unwrap()
    );
    // The revoked key restored under its id or under a new id with its hash stays out.
    assert_eq!(
        keys.insert(record("key_gone", 9), now()).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_gone")))
    );
    assert_eq!(
        keys.insert(record("key_copy", 2), now()).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_copy")))
    );
    assert_eq!(
        keys.insert(record("key_other", 1), now()).await,
        Err(KeyStoreError::DuplicateHash {
            id: Arc::from("key_other"),
            existing: Arc::from("key_live"),
        })
    );
}

#[tokio::test]
async fn usage_is_written_at_close_and_within_a_second_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let hash = KeyHash::from_bytes([1; 32]);
    {
        let store = open(dir.path());
        store
            .keys()
            .insert(record("key_a", 1), now())
            .await
            .unwrap();
        let entry = store.keys().find_by_hash(&hash).await.unwrap().unwrap();
        for _ in 0..3 {
            store.keys().record_use(&entry, now());
        }
        store.close().await;
    }
    {
        let store = open(dir.path());
        let usage = store.keys().usage("key_a").await.unwrap();
        assert_eq!((usage.request_count, usage.last_used), (3, Some(now())));
        let entry = store.keys().find_by_hash(&hash).await.unwrap().unwrap();
        store.keys().record_use(&entry, now());
        // No close: the writer's tick, once a second, is what writes it.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        drop(entry);
        loop {
            // A backup is a read of what is committed.
            let copy = dir.path().join("copy.redb");
            store.backup(&copy).await.unwrap();
            if committed_count(&copy, "key_a") == 4 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "usage not written within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The request count the database file at `path` holds for `id`.
fn committed_count(path: &std::path::Path, id: &str) -> u64 {
    use redb::{ReadableDatabase, TableDefinition};
    const USAGE: TableDefinition<&str, (u64, i64)> = TableDefinition::new("key_usage");
    let db = redb::Database::open(path).unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table(USAGE).unwrap();
    table.get(id).unwrap().map_or(0, |usage| usage.value().0)
}

#[tokio::test]
async fn a_second_store_on_the_same_directory_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let error = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap_err();
    assert!(
        matches!(&error, EmbeddedError::InUse { pid: Some(pid), .. } if *pid == std::process::id()),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("in use by another process")
            && message.contains("one process per store.path"),
        "{message}"
    );
    assert_eq!(
        memorysync_pipeline::embedded_store::lock_holder(dir.path()).unwrap(),
        Some(std::process::id())
    );
    store.close().await;
    drop(store);
    assert_eq!(
        memorysync_pipeline::embedded_store::lock_holder(dir.path()).unwrap(),
        None
    );
    drop(open(dir.path()));
}

#[tokio::test]
async fn expired_tombstones_are_dropped_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let options = || EmbeddedOptions::new().with_tombstone_period(Duration::from_secs(60));
    {
        let store = EmbeddedStore::open(dir.path(), options()).unwrap();
        let tombstones = store.tombstones();
        let old = Timestamp::from_unix_secs(0);
        tombstones
            .leave(TombstoneKind::Memory, "old", old)
            .await
            .unwrap();
        tombstones
            .leave(TombstoneKind::Memory, "new", now())
            .await
            .unwrap();
    }
    let store = EmbeddedStore::open(dir.path(), options()).unwrap();
    let tombstones = store.tombstones();
    assert!(
        !tombstones
            .contains(TombstoneKind::Memory, "old", now())
            .await
            .unwrap()
    );
    assert!(
        tombstones
            .contains(TombstoneKind::Memory, "new", now())
            .await
            .unwrap()
    );
    assert_eq!(tombstones.in_memory().len(), 1);
}
