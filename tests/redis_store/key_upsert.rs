//! `KeyStore::upsert` and `KeyStore::owned_records`, run against `MemoryKeyStore` and
//! `RedisKeyStore`: what reconciling the config file relies on.

use std::sync::Arc;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, SystemClock, Timestamp};
use memorysync_pipeline::key::{
    KeyHash, KeyRecord, KeyStore, KeyStoreError, MemoryKeyStore, RecordOwner, Upserted,
};
use memorysync_pipeline::redis_store::RedisKeyStore;

use crate::common::redis::{clean_up, connect};
use crate::secs;

fn hash(n: u8) -> KeyHash {
    KeyHash::from_bytes([n; 32])
}

/// A record the config file owns.
fn filed(id: &str, n: u8) -> KeyRecord {
    KeyRecord::new(id, hash(n), "proj_a", Environment::Development)
        .with_limits(Some(5), Some(100))
        .with_owner(RecordOwner::Config)
}

async fn found<S: KeyStore>(store: &S, n: u8) -> Option<KeyRecord> {
    let entry = store.find_by_hash(&hash(n)).await.unwrap();
    entry.map(|entry| entry.record().clone())
}

async fn upsert_suite<S: KeyStore>(store: S, flush: impl AsyncFn(&S)) {
    let now = SystemClock.now();

    // Added, then unchanged.
    let a = filed("key_a", 1);
    assert_eq!(store.upsert(a.clone(), now).await, Ok(Upserted::Added));
    assert_eq!(found(&store, 1).await.as_ref(), Some(&a));
    assert_eq!(store.upsert(a.clone(), now).await, Ok(Upserted::Unchanged));

    // New limits, expiry, environment: changed in place, usage kept.
    let entry = store.find_by_hash(&hash(1)).await.unwrap().unwrap();
    store.record_use(&entry, now);
    store.record_use(&entry, now);
    flush(&store).await;
    let limited = KeyRecord {
        rps: Some(1),
        expires_at: Some(now.saturating_add(secs(60))),
        environment: Environment::Production,
        ..a.clone()
    };
    assert_eq!(
        store.upsert(limited.clone(), now).await,
        Ok(Upserted::Changed)
    );
    assert_eq!(found(&store, 1).await.as_ref(), Some(&limited));
    assert_eq!(store.usage("key_a").await.unwrap().request_count, 2);

    // A new hash: the old one is gone and tombstoned, the usage follows the id.
    let rehashed = KeyRecord {
        sha256: hash(2),
        ..limited.clone()
    };
    assert_eq!(
        store.upsert(rehashed.clone(), now).await,
        Ok(Upserted::Changed)
    );
    assert_eq!(found(&store, 1).await, None, "the old key no longer works");
    assert_eq!(found(&store, 2).await.as_ref(), Some(&rehashed));
    assert_eq!(store.usage("key_a").await.unwrap().request_count, 2);
    assert_eq!(
        store.insert(filed("key_old", 1), now).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_old"))),
        "the old hash is tombstoned: no backup brings it back"
    );

    // The other owner's record is not replaced; nor is a hash another id holds.
    let api = KeyRecord::new("key_api", hash(3), "proj_a", Environment::Development);
    assert_eq!(store.upsert(api.clone(), now).await, Ok(Upserted::Added));
    assert_eq!(
        store.upsert(filed("key_api", 3), now).await,
        Err(KeyStoreError::OwnedBy {
            id: Arc::from("key_api"),
            owner: RecordOwner::Api,
        })
    );
    assert_eq!(
        store.upsert(filed("key_a", 3), now).await,
        Err(KeyStoreError::DuplicateHash {
            id: Arc::from("key_a"),
            existing: Arc::from("key_api"),
        })
    );
    assert_eq!(
        found(&store, 2).await.as_ref(),
        Some(&rehashed),
        "left as it was"
    );

    // Revocation is one-way: a revoked id is never replaced, whatever the record says.
    store.upsert(filed("key_b", 4), now).await.unwrap();
    store.revoke("key_b", now).await.unwrap();
    for again in [filed("key_b", 4), filed("key_b", 5)] {
        assert_eq!(
            store.upsert(again, now).await,
            Err(KeyStoreError::Tombstoned(Arc::from("key_b")))
        );
    }
    // A record upserted with `revoked_at` is stored revoked and tombstoned.
    let revoked_at = Timestamp::from_unix_millis(now.unix_millis() - 1_000);
    let c = KeyRecord {
        revoked_at: Some(revoked_at),
        ..filed("key_c", 6)
    };
    assert_eq!(store.upsert(c.clone(), now).await, Ok(Upserted::Added));
    assert!(found(&store, 6).await.unwrap().is_revoked(now));
    assert_eq!(
        store.insert(filed("key_c2", 6), now).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_c2")))
    );

    // Each owner's records, revoked ones included.
    let mut config: Vec<_> = store
        .owned_records(RecordOwner::Config)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id.to_string(), r.sha256.to_hex(), r.revoked_at.is_some()))
        .collect();
    config.sort();
    assert_eq!(
        config,
        vec![
            ("key_a".into(), hash(2).to_hex(), false),
            ("key_b".into(), hash(4).to_hex(), true),
            ("key_c".into(), hash(6).to_hex(), true),
        ]
    );
    let api_owned = store.owned_records(RecordOwner::Api).await.unwrap();
    assert_eq!(api_owned, vec![api]);
}

#[tokio::test]
async fn memory_key_store_upserts_and_lists_by_owner() {
    upsert_suite(MemoryKeyStore::new(), async |_| {}).await;
}

#[tokio::test]
async fn redis_key_store_upserts_and_lists_by_owner() {
    let Some(connection) = connect("keys_upsert").await else {
        return;
    };
    let store = RedisKeyStore::new(connection.clone());
    upsert_suite(store, async |store: &RedisKeyStore| {
        store.flush_usage().await.unwrap();
    })
    .await;
    clean_up(&connection).await;
}

#[tokio::test]
async fn redis_records_stored_before_owners_existed_read_as_the_files() {
    let Some(connection) = connect("keys_legacy").await else {
        return;
    };
    let now = SystemClock.now();
    let mut manager = connection.manager();
    // A record as stored before it had an owner, in no owner index.
    let legacy = r#"{"id":"key_old","project":"proj_a","environment":"development","rps":5}"#;
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(connection.key(&["key", "hash", &hash(7).to_hex()]))
        .arg("record")
        .arg(legacy)
        .cmd("SET")
        .arg(connection.key(&["key", "id", "key_old"]))
        .arg(hash(7).to_hex())
        .query_async(&mut manager)
        .await
        .unwrap();
    let store = RedisKeyStore::new(connection.clone());
    assert_eq!(found(&store, 7).await.unwrap().owner, RecordOwner::Config);
    // Read as the file's, it is listed as the file's: a reconciliation sees it, and revokes it
    // when the file no longer names it.
    let listed = store.owned_records(RecordOwner::Config).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| &*r.id).collect::<Vec<_>>(),
        ["key_old"],
        "a record stored before owners existed is in no reconciliation"
    );
    let adopted = KeyRecord {
        rpm: None,
        ..filed("key_old", 7)
    };
    assert_eq!(
        store.upsert(adopted.clone(), now).await,
        Ok(Upserted::Changed)
    );
    assert_eq!(
        store.owned_records(RecordOwner::Config).await.unwrap(),
        vec![adopted]
    );
    clean_up(&connection).await;
}
