//! `EmbeddedKeyStore`: key records answered from memory; every change committed to disk
//! before the call that made it returns; usage counted in memory and written every second.

use std::future::Future;
use std::sync::Arc;

use super::EmbeddedStore;
use super::writer::Op;
use crate::clock::Timestamp;
use crate::deployment::BackendFuture;
use crate::key::{KeyEntry, KeyHash, KeyRecord, KeyStore, KeyStoreError, KeyUsage, Upserted};
use crate::store::RecordOwner;
use crate::store::StoreError;
use crate::tombstone::TombstoneKind;

/// The look-up future: always the `Memory` arm (the records are in memory); the type is the
/// deployment's so that the embedded arm costs no conversion.
pub type EmbeddedLookup = BackendFuture<
    std::future::Ready<Result<Option<Arc<KeyEntry>>, StoreError>>,
    std::pin::Pin<Box<dyn Future<Output = Result<Option<Arc<KeyEntry>>, StoreError>> + Send>>,
>;

/// Key records of the embedded store. Clones share them.
#[derive(Clone, Debug)]
pub struct EmbeddedKeyStore {
    pub(super) store: EmbeddedStore,
}

impl EmbeddedKeyStore {
    /// The store these records live in.
    pub fn store(&self) -> &EmbeddedStore {
        &self.store
    }

    /// Whether the record's id or hash has a tombstone standing at `now`.
    fn is_tombstoned(&self, record: &KeyRecord, now: Timestamp) -> bool {
        let tombstones = &self.store.shared.tombstones;
        tombstones.contains_now(TombstoneKind::ApiKeyId, &record.id, now)
            || tombstones.contains_now(TombstoneKind::ApiKeyHash, &record.sha256.to_hex(), now)
    }

    /// Adds a record whose id is free, unless its hash is taken: committed, then in memory.
    /// The caller holds the admin lock.
    async fn add(&self, record: KeyRecord, now: Timestamp) -> Result<(), KeyStoreError> {
        let shared = &self.store.shared;
        if let Some(existing) = shared.keys.find_by_hash(&record.sha256).await? {
            return Err(KeyStoreError::DuplicateHash {
                id: record.id,
                existing: existing.record().id.clone(),
            });
        }
        let mut ops = vec![Op::PutKey(record.clone())];
        if let Some(at) = record.revoked_at {
            ops.extend(self.tombstone_ops(&record, at));
        }
        shared.writer.commit(ops).await?;
        shared.keys.insert(record, now).await
    }

    /// The tombstone writes of revoking `record` at `at`.
    fn tombstone_ops(&self, record: &KeyRecord, at: Timestamp) -> [Op; 2] {
        let expires = self.store.shared.tombstones.expiry_from(at);
        [
            Op::PutTombstone {
                kind: TombstoneKind::ApiKeyId,
                id: Box::from(&*record.id),
                expires,
            },
            Op::PutTombstone {
                kind: TombstoneKind::ApiKeyHash,
                id: record.sha256.to_hex().into_boxed_str(),
                expires,
            },
        ]
    }
}

impl KeyStore for EmbeddedKeyStore {
    type Lookup = EmbeddedLookup;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        BackendFuture::Memory {
            future: self.store.shared.keys.find_by_hash(hash),
        }
    }

    async fn insert(&self, record: KeyRecord, now: Timestamp) -> Result<(), KeyStoreError> {
        let shared = &self.store.shared;
        // One change at a time: the checks below stay true until the record is in memory.
        let _one = shared.admin.lock().await;
        if self.is_tombstoned(&record, now) {
            return Err(KeyStoreError::Tombstoned(record.id));
        }
        if shared.keys.record_by_id(&record.id).is_some() {
            return Err(KeyStoreError::DuplicateId(record.id));
        }
        self.add(record, now).await
    }

    async fn revoke(&self, id: &str, at: Timestamp) -> Result<(), KeyStoreError> {
        let shared = &self.store.shared;
        let _one = shared.admin.lock().await;
        let mut record = shared
            .keys
            .record_by_id(id)
            .ok_or_else(|| KeyStoreError::UnknownKey(Arc::from(id)))?;
        // Revoking twice keeps the first instant.
        record.revoked_at = Some(record.revoked_at.map_or(at, |earlier| earlier.min(at)));
        let mut ops = vec![Op::PutKey(record.clone())];
        ops.extend(self.tombstone_ops(&record, at));
        shared.writer.commit(ops).await?;
        shared.keys.revoke(id, at).await
    }

    fn usage(&self, id: &str) -> impl Future<Output = Result<KeyUsage, KeyStoreError>> + Send {
        self.store.shared.keys.usage(id)
    }

    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send {
        // Memory holds every committed record: what a change commits, it then puts here.
        self.store.shared.keys.record(id)
    }

    /// Decides with the memory store's rules, commits the change, then makes it in memory: the
    /// change is on disk before the call returns, and a failed commit changes nothing.
    async fn upsert(&self, record: KeyRecord, now: Timestamp) -> Result<Upserted, KeyStoreError> {
        let shared = &self.store.shared;
        // One change at a time: the checks below stay true until the record is in memory.
        let _one = shared.admin.lock().await;
        if self.is_tombstoned(&record, now) {
            return Err(KeyStoreError::Tombstoned(record.id));
        }
        let Some(stored) = shared.keys.record_by_id(&record.id) else {
            return self.add(record, now).await.map(|()| Upserted::Added);
        };
        if stored.owner != record.owner {
            return Err(KeyStoreError::OwnedBy {
                id: record.id,
                owner: stored.owner,
            });
        }
        // Revocation is one-way, even once the tombstones have expired.
        if stored.revoked_at.is_some() {
            return Err(KeyStoreError::Tombstoned(record.id));
        }
        if stored == record {
            return Ok(Upserted::Unchanged);
        }
        if record.sha256 != stored.sha256
            && let Some(holder) = shared.keys.find_by_hash(&record.sha256).await?
        {
            return Err(KeyStoreError::DuplicateHash {
                id: record.id,
                existing: holder.record().id.clone(),
            });
        }
        let mut ops = vec![Op::PutKey(record.clone())];
        if record.sha256 != stored.sha256 {
            // The old key must never work again, not even from a backup.
            ops.push(Op::PutTombstone {
                kind: TombstoneKind::ApiKeyHash,
                id: stored.sha256.to_hex().into_boxed_str(),
                expires: shared.tombstones.expiry_from(now),
            });
        }
        if let Some(at) = record.revoked_at {
            ops.extend(self.tombstone_ops(&record, at));
        }
        shared.writer.commit(ops).await?;
        shared.keys.upsert(record, now).await
    }

    fn owned_records(
        &self,
        owner: RecordOwner,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, KeyStoreError>> + Send {
        self.store.shared.keys.owned_records(owner)
    }
}

/// The usage tick: every entry whose usage changed since the last tick, as writes.
pub(super) fn usage_tick(keys: crate::key::MemoryKeyStore) -> super::writer::Tick {
    let mut written: std::collections::HashMap<Arc<str>, KeyUsage> = Default::default();
    Box::new(move || {
        let mut ops = Vec::new();
        keys.for_each_entry(|entry| {
            let usage = entry.usage();
            let id = &entry.record().id;
            if usage.request_count == 0 || written.get(id) == Some(&usage) {
                return;
            }
            written.insert(Arc::clone(id), usage);
            ops.push(Op::PutUsage {
                id: Arc::clone(id),
                count: usage.request_count,
                last_used: usage
                    .last_used
                    .map_or(super::codec::NEVER_USED, Timestamp::unix_millis),
            });
        });
        ops
    })
}
