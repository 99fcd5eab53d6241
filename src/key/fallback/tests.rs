use std::future::{Ready, ready};
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::environment::Environment;
use crate::key::MemoryKeyStore;

/// A shared key store that answers look-ups from a memory store while `up` is set.
#[derive(Default)]
struct Flaky {
    up: AtomicBool,
    keys: MemoryKeyStore,
}

impl KeyStore for Arc<Flaky> {
    type Lookup = Ready<Result<Option<Arc<KeyEntry>>, StoreError>>;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        if !self.up.load(Ordering::Relaxed) {
            return ready(Err(StoreError::new("down")));
        }
        self.keys.find_by_hash(hash)
    }

    fn insert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        self.keys.insert(record, now)
    }

    fn revoke(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        self.keys.revoke(id, at)
    }

    fn usage(&self, id: &str) -> impl Future<Output = Result<KeyUsage, KeyStoreError>> + Send {
        self.keys.usage(id)
    }

    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send {
        let down = !self.up.load(Ordering::Relaxed);
        let read = self.keys.record(id);
        async move {
            if down {
                return Err(StoreError::new("down").into());
            }
            read.await
        }
    }

    fn upsert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<Upserted, KeyStoreError>> + Send {
        self.keys.upsert(record, now)
    }

    fn owned_records(
        &self,
        owner: RecordOwner,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, KeyStoreError>> + Send {
        self.keys.owned_records(owner)
    }
}

fn hash(n: u8) -> KeyHash {
    KeyHash::from_bytes([n; 32])
}

fn record(n: u8) -> KeyRecord {
    KeyRecord::new(
        format!("key_{n}"),
        hash(n),
        "proj",
        Environment::Development,
    )
}

const NOW: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

/// A store with key 1 looked up, key 2 only inserted and key 3 stored behind its back; then down.
async fn down_after_seeing(
    policy: StoreErrorPolicy,
) -> (Arc<Flaky>, WithFallback<Arc<Flaky>, LastKnownKeys>) {
    let shared = Arc::new(Flaky::default());
    shared.up.store(true, Ordering::Relaxed);
    let store = WithFallback::new(Arc::clone(&shared), policy);
    store.insert(record(1), NOW).await.unwrap();
    assert!(store.find_by_hash(&hash(1)).await.unwrap().is_some());
    store.insert(record(2), NOW).await.unwrap();
    shared.keys.insert(record(3), NOW).await.unwrap();
    shared.up.store(false, Ordering::Relaxed);
    (shared, store)
}

#[tokio::test(start_paused = true)]
async fn local_and_allow_check_a_seen_key_against_its_last_record_and_never_admit_an_unseen_one() {
    for policy in [StoreErrorPolicy::Local, StoreErrorPolicy::Allow] {
        let (shared, store) = down_after_seeing(policy).await;
        let looked_up = store.find_by_hash(&hash(1)).await.unwrap().unwrap();
        assert_eq!(looked_up.record().id.as_ref(), "key_1", "{policy:?}");
        let inserted = store.find_by_hash(&hash(2)).await.unwrap().unwrap();
        let theirs = shared.keys.find_by_hash(&hash(2)).await.unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&inserted, &theirs),
            "the shared store's own entry, whose usage it flushes"
        );
        assert!(store.find_by_hash(&hash(3)).await.is_err(), "{policy:?}");
        assert!(store.is_failing());
    }
}

#[tokio::test(start_paused = true)]
async fn deny_refuses_every_look_up_while_the_store_is_down() {
    let (_, store) = down_after_seeing(StoreErrorPolicy::Deny).await;
    for n in 1..=3 {
        assert!(store.find_by_hash(&hash(n)).await.is_err());
    }
}

#[tokio::test(start_paused = true)]
async fn the_shared_store_is_asked_again_once_back() {
    let (shared, store) = down_after_seeing(StoreErrorPolicy::Local).await;
    assert!(store.find_by_hash(&hash(1)).await.unwrap().is_some());
    assert!(store.is_failing());
    shared.up.store(true, Ordering::Relaxed);
    tokio::time::advance(crate::store::breaker::PROBE_EVERY).await;
    assert!(
        store.find_by_hash(&hash(3)).await.is_err(),
        "answered at once, not waiting for the probe"
    );
    tokio::task::yield_now().await;
    assert!(!store.is_failing(), "the probe found the store back");
    assert!(
        store.local.entries.contains_key(&hash(3)),
        "what the probe found is known for the next outage"
    );
    assert!(store.find_by_hash(&hash(3)).await.unwrap().is_some());
}

#[test]
fn a_key_the_shared_store_no_longer_has_is_forgotten() {
    let known = LastKnownKeys::default();
    let down = || Err(StoreError::new("down"));
    let local = StoreErrorPolicy::Local;
    let entry = Arc::new(KeyEntry::new(record(4)));
    assert!(known.answer(hash(4), Ok(Some(entry)), local).is_ok());
    assert!(matches!(known.answer(hash(4), down(), local), Ok(Some(_))));
    assert!(matches!(known.answer(hash(4), Ok(None), local), Ok(None)));
    assert!(known.answer(hash(4), down(), local).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_rehashed_or_revoked_key_never_answers_from_its_old_record_during_an_outage() {
    let (shared, store) = down_after_seeing(StoreErrorPolicy::Local).await;
    shared.up.store(true, Ordering::Relaxed);
    tokio::time::advance(crate::store::breaker::PROBE_EVERY).await;
    let _ = store.find_by_hash(&hash(1)).await;
    tokio::task::yield_now().await;
    assert!(!store.is_failing());

    // Key 1 gets a new hash, key 2 is revoked; then the shared store goes down again.
    let rehashed = KeyRecord {
        sha256: hash(11),
        ..record(1)
    };
    assert_eq!(store.upsert(rehashed, NOW).await, Ok(Upserted::Changed));
    store.revoke("key_2", NOW).await.unwrap();
    shared.up.store(false, Ordering::Relaxed);

    assert!(
        store.find_by_hash(&hash(1)).await.is_err(),
        "the old hash is forgotten, not admitted from memory"
    );
    let new = store.find_by_hash(&hash(11)).await.unwrap().unwrap();
    assert_eq!(new.record().id.as_ref(), "key_1");
    let revoked = store.find_by_hash(&hash(2)).await.unwrap().unwrap();
    assert!(
        revoked.record().is_revoked(NOW),
        "the revoked record is remembered"
    );
}

#[tokio::test(start_paused = true)]
async fn a_record_read_during_an_outage_is_an_error_never_the_record_remembered() {
    for policy in [
        StoreErrorPolicy::Local,
        StoreErrorPolicy::Allow,
        StoreErrorPolicy::Deny,
    ] {
        let (shared, store) = down_after_seeing(policy).await;
        // Key 1 was looked up: an outage lets it authenticate, but an admin read is refused.
        let read = store.record("key_1").await;
        assert!(
            matches!(read, Err(KeyStoreError::Store(_))),
            "{policy:?}: {read:?}"
        );
        shared.up.store(true, Ordering::Relaxed);
        assert_eq!(
            store.record("key_1").await,
            Ok(Some(record(1))),
            "{policy:?}"
        );
        assert_eq!(store.record("key_9").await, Ok(None), "{policy:?}");
    }
}
