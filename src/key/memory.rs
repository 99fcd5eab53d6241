use std::future::{Future, Ready, ready};
use std::sync::{Arc, Mutex, PoisonError};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::{
    KeyEntry, KeyHash, KeyHashState, KeyRecord, KeyStore, KeyStoreError, KeyUsage, Upserted,
};
use crate::clock::Timestamp;
use crate::store::{RecordOwner, StoreError};
use crate::tombstone::{MemoryTombstones, TombstoneKind};

/// Key records in process memory, the default store. Clones share one set.
#[derive(Clone, Debug, Default)]
pub struct MemoryKeyStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entry_by_hash: DashMap<KeyHash, Arc<KeyEntry>, KeyHashState>,
    hash_by_id: DashMap<Arc<str>, KeyHash>,
    tombstones: MemoryTombstones,
    /// One write (insert, upsert, revoke) at a time, so that each one's checks and changes to
    /// the two maps are one step; look-ups never take it.
    writes: Mutex<()>,
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
                entry_by_hash: DashMap::default(),
                hash_by_id: DashMap::new(),
                tombstones,
                writes: Mutex::new(()),
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
    pub(crate) fn record_by_id(&self, id: &str) -> Option<KeyRecord> {
        let hash = *self.inner.hash_by_id.get(id)?;
        self.inner
            .entry_by_hash
            .get(&hash)
            .map(|entry| entry.record().clone())
    }

    fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn is_tombstoned(&self, record: &KeyRecord, now: Timestamp) -> bool {
        let tombstones = &self.inner.tombstones;
        tombstones.contains_now(TombstoneKind::ApiKeyId, &record.id, now)
            || tombstones.contains_now(TombstoneKind::ApiKeyHash, &record.sha256.to_hex(), now)
    }

    fn insert_now(&self, record: KeyRecord, now: Timestamp) -> Result<(), KeyStoreError> {
        let _writing = self.writing();
        self.insert_while_writing(record, now)
    }

    fn insert_while_writing(&self, record: KeyRecord, now: Timestamp) -> Result<(), KeyStoreError> {
        if self.is_tombstoned(&record, now) {
            return Err(KeyStoreError::Tombstoned(record.id));
        }
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

    fn upsert_now(&self, record: KeyRecord, now: Timestamp) -> Result<Upserted, KeyStoreError> {
        let _writing = self.writing();
        if self.is_tombstoned(&record, now) {
            return Err(KeyStoreError::Tombstoned(record.id));
        }
        let current = self.inner.hash_by_id.get(&record.id).map(|hash| *hash);
        let Some(old_hash) = current else {
            return self
                .insert_while_writing(record, now)
                .map(|()| Upserted::Added);
        };
        let old = self
            .inner
            .entry_by_hash
            .get(&old_hash)
            .map(|entry| Arc::clone(&entry))
            .ok_or_else(|| StoreError::new("key store: an id indexes no record"))?;
        let stored = old.record();
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
        if *stored == record {
            return Ok(Upserted::Unchanged);
        }
        let new_hash = record.sha256;
        if new_hash != old_hash
            && let Some(holder) = self.inner.entry_by_hash.get(&new_hash)
        {
            let existing = holder.record().id.clone();
            return Err(KeyStoreError::DuplicateHash {
                id: record.id,
                existing,
            });
        }
        let (id, revoked_at) = (record.id.clone(), record.revoked_at);
        let entry = Arc::new(KeyEntry::with_usage(record, old.usage()));
        // The new entry goes in before the old one leaves: a look-up finds one or the other.
        self.inner.entry_by_hash.insert(new_hash, entry);
        if new_hash != old_hash {
            self.inner.hash_by_id.insert(id.clone(), new_hash);
            self.inner.entry_by_hash.remove(&old_hash);
            // The old key must never work again, not even from a backup.
            let tombstones = &self.inner.tombstones;
            tombstones.leave_now(TombstoneKind::ApiKeyHash, &old_hash.to_hex(), now);
        }
        if let Some(at) = revoked_at {
            self.leave_tombstones(&id, &new_hash, at);
        }
        Ok(Upserted::Changed)
    }

    fn owned_now(&self, owner: RecordOwner) -> Vec<KeyRecord> {
        self.inner
            .entry_by_hash
            .iter()
            .filter(|entry| entry.record().owner == owner)
            .map(|entry| entry.record().clone())
            .collect()
    }

    fn revoke_now(&self, id: &str, at: Timestamp) -> Result<(), KeyStoreError> {
        let _writing = self.writing();
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

    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send {
        ready(Ok(self.record_by_id(id)))
    }

    fn upsert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<Upserted, KeyStoreError>> + Send {
        ready(self.upsert_now(record, now))
    }

    fn owned_records(
        &self,
        owner: RecordOwner,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, KeyStoreError>> + Send {
        ready(Ok(self.owned_now(owner)))
    }
}
