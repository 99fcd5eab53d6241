//! Where endpoint records live: [`EndpointStore`], and its in-memory backend.
//!
//! Every write names the revision it read (0: the record must not exist), so that two
//! instances changing one record at once cannot both win: the loser reads again and retries.
//! The generation moves with every write, so an instance that polls it (one small read)
//! learns that something changed and reloads.

use std::collections::BTreeMap;
use std::future::{Future, ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::EndpointRecord;
use crate::store::StoreError;

/// Endpoint records by id.
pub trait EndpointStore: Send + Sync + 'static {
    /// Every record, by id.
    fn all(&self) -> impl Future<Output = Result<Vec<EndpointRecord>, StoreError>> + Send;

    /// The record with this id.
    fn get(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<EndpointRecord>, StoreError>> + Send;

    /// Writes `record` if the stored one's revision is `expected` (0: none is stored), and
    /// moves the generation. `false`, writing nothing, when another write came first.
    fn put(
        &self,
        record: &EndpointRecord,
        expected: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes the record if its revision is `expected`, and moves the generation. `false`
    /// when it is gone already or another write came first.
    fn remove(
        &self,
        id: &str,
        expected: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A number that changes whenever a record does.
    fn generation(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Whether other processes write these records, so that this one must poll
    /// [`EndpointStore::generation`] to see their changes. The default, `false`, is right for a
    /// store only this process writes.
    fn is_shared(&self) -> bool {
        false
    }
}

/// Endpoint records in process memory. Clones share them.
#[derive(Clone, Debug, Default)]
pub struct MemoryEndpointStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: Mutex<BTreeMap<String, EndpointRecord>>,
    generation: AtomicU64,
}

impl MemoryEndpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `records` (the embedded store's, read from disk).
    pub fn with_records(records: impl IntoIterator<Item = EndpointRecord>) -> Self {
        let store = Self::default();
        store
            .locked()
            .extend(records.into_iter().map(|r| (r.id.clone(), r)));
        store
    }

    fn locked(&self) -> MutexGuard<'_, BTreeMap<String, EndpointRecord>> {
        // Every change is one insert or remove: a panic cannot leave the map torn.
        self.inner
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a write expecting revision `expected` of `id` would win now.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn would_win(&self, id: &str, expected: u64) -> bool {
        self.locked().get(id).map_or(0, |r| r.revision) == expected
    }

    /// [`EndpointStore::put`], answered at once.
    pub(crate) fn put_now(&self, record: &EndpointRecord, expected: u64) -> bool {
        let mut records = self.locked();
        if records.get(&record.id).map_or(0, |r| r.revision) != expected {
            return false;
        }
        records.insert(record.id.clone(), record.clone());
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// [`EndpointStore::remove`], answered at once.
    pub(crate) fn remove_now(&self, id: &str, expected: u64) -> bool {
        let mut records = self.locked();
        if records.get(id).map(|r| r.revision) != Some(expected) {
            return false;
        }
        records.remove(id);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        true
    }
}

impl EndpointStore for MemoryEndpointStore {
    fn all(&self) -> impl Future<Output = Result<Vec<EndpointRecord>, StoreError>> + Send {
        ready(Ok(self.locked().values().cloned().collect()))
    }

    fn get(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<EndpointRecord>, StoreError>> + Send {
        ready(Ok(self.locked().get(id).cloned()))
    }

    fn put(
        &self,
        record: &EndpointRecord,
        expected: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.put_now(record, expected)))
    }

    fn remove(
        &self,
        id: &str,
        expected: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.remove_now(id, expected)))
    }

    fn generation(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        ready(Ok(self.inner.generation.load(Ordering::Acquire)))
    }
}
