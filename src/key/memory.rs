use std::future::{Future, Ready, ready};
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::{KeyEntry, KeyHash, KeyRecord, KeyStore, KeyStoreError, KeyUsage};
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::tombstone::{MemoryTombstones, TombstoneKind};

/// Key records in process memory, the default store. Clones share one set.
#[derive(Clone, Debug, Default)]
pub struct MemoryKeyStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entry_by_hash: DashMap<KeyHash, Arc<KeyEntry>>,
    hash_by_id: DashMap<Arc<str>, KeyHash>,
    tombstones: MemoryTombstones,
}

impl MemoryKeyStore {
    /// An empty store with its own tombstones, kept 90 days.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that leaves and checks tombstones in `tombstones`, shared with the rest of
    /// the application.
    pub fn with_tombstones(tombstones: MemoryTombstones) -> Self {
        MemoryKeyStore {
            inner: Arc::new(Inner {
                entry_by_hash: DashMap::new(),
                hash_by_id: DashMap::new(),
                tombstones,
            }),
        }
    }

    /// The tombstones this store leaves.
    pub fn tombstones(&self) -> &MemoryTombstones {
        &self.inner.tombstones
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.inner.entry_by_hash.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.inner.entry_by_hash.is_empty()
    }

    /// Puts back a record read from a durable store, with its usage, whatever the tombstones
    /// say: the store decides what its records are.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn restore(&self, record: KeyRecord, usage: KeyUsage) {
        self.inner
            .hash_by_id
            .insert(record.id.clone(), record.sha256);
        self.inner
            .entry_by_hash
            .insert(record.sha256, Arc::new(KeyEntry::with_usage(record, usage)));
    }

    /// Calls `each` with every entry held.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn for_each_entry(&self, mut each: impl FnMut(&Arc<KeyEntry>)) {
        for entry in &self.inner.entry_by_hash {
            each(entry.value());
        }
    }

    /// The record with this id.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn record_by_id(&self, id: &str) -> Option<KeyRecord> {
        let hash = *self.inner.hash_by_id.get(id)?;
        self.inner
            .entry_by_hash
            .get(&hash)
            .map(|entry| entry.record().clone())
    }

    fn insert_now(&self, record: KeyRecord, now: Timestamp) -> Result<(), KeyStoreError> {
        let tombstones = &self.inner.tombstones;
        if tombstones.contains_now(TombstoneKind::ApiKeyId, &record.id, now)
            || tombstones.contains_now(TombstoneKind::ApiKeyHash, &record.sha256.to_hex(), now)
        {
            return Err(KeyStoreError::Tombstoned(record.id));
        }
        // Claim the id first; the entry guard makes the check and the claim one step.
        match self.inner.hash_by_id.entry(record.id.clone()) {
            Entry::Occupied(_) => return Err(KeyStoreError::DuplicateId(record.id)),
            Entry::Vacant(slot) => {
                slot.insert(record.sha256);
            }
        }
        match self.inner.entry_by_hash.entry(record.sha256) {
            Entry::Occupied(existing) => {
                let existing = existing.get().record().id.clone();
                self.inner.hash_by_id.remove(&record.id);
                Err(KeyStoreError::DuplicateHash {
                    id: record.id,
                    existing,
                })
            }
            Entry::Vacant(slot) => {
                let revoked_at = record.revoked_at;
                let (id, hash) = (record.id.clone(), record.sha256);
                slot.insert(Arc::new(KeyEntry::new(record)));
                // A record that arrives already revoked (from the config file) is tombstoned too.
                if let Some(at) = revoked_at {
                    self.leave_tombstones(&id, &hash, at);
                }
                Ok(())
            }
        }
    }

    fn revoke_now(&self, id: &str, at: Timestamp) -> Result<(), KeyStoreError> {
        let hash = *self
            .inner
            .hash_by_id
            .get(id)
            .ok_or_else(|| KeyStoreError::UnknownKey(Arc::from(id)))?;
        if let Some(mut slot) = self.inner.entry_by_hash.get_mut(&hash) {
            let mut record = slot.record().clone();
            // Revoking twice keeps the first instant.
            record.revoked_at = Some(record.revoked_at.map_or(at, |earlier| earlier.min(at)));
            let usage = slot.usage();
            *slot = Arc::new(KeyEntry::with_usage(record, usage));
        }
        self.leave_tombstones(id, &hash, at);
        Ok(())
    }

    fn leave_tombstones(&self, id: &str, hash: &KeyHash, at: Timestamp) {
        let tombstones = &self.inner.tombstones;
        tombstones.leave_now(TombstoneKind::ApiKeyId, id, at);
        tombstones.leave_now(TombstoneKind::ApiKeyHash, &hash.to_hex(), at);
    }

    fn usage_now(&self, id: &str) -> Result<KeyUsage, KeyStoreError> {
        let hash = *self
            .inner
            .hash_by_id
            .get(id)
            .ok_or_else(|| KeyStoreError::UnknownKey(Arc::from(id)))?;
        self.inner
            .entry_by_hash
            .get(&hash)
            .map(|entry| entry.usage())
            .ok_or_else(|| KeyStoreError::UnknownKey(Arc::from(id)))
    }
}

impl KeyStore for MemoryKeyStore {
    type Lookup = Ready<Result<Option<Arc<KeyEntry>>, StoreError>>;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        ready(Ok(self
            .inner
            .entry_by_hash
            .get(hash)
            .map(|entry| Arc::clone(&entry))))
    }

    fn insert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        ready(self.insert_now(record, now))
    }

    fn revoke(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        ready(self.revoke_now(id, at))
    }

    fn usage(&self, id: &str) -> impl Future<Output = Result<KeyUsage, KeyStoreError>> + Send {
        ready(self.usage_now(id))
    }
}
