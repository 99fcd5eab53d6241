//! `EmbeddedEndpointStore`: webhook endpoint records answered from memory, every change
//! committed to disk before the call that made it returns. One process holds the store, so
//! the revision check and the write are decided under one lock in memory.

use super::EmbeddedStore;
use super::writer::Op;
use crate::store::StoreError;
use crate::webhook::endpoints::{EndpointRecord, EndpointStore, MemoryEndpointStore};

/// The records in memory and the lock that makes check, commit and change one step.
#[derive(Debug)]
pub(super) struct EndpointTable {
    records: MemoryEndpointStore,
    write: tokio::sync::Mutex<()>,
}

impl EndpointTable {
    pub(super) fn new(records: Vec<EndpointRecord>) -> Self {
        EndpointTable {
            records: MemoryEndpointStore::with_records(records),
            write: tokio::sync::Mutex::new(()),
        }
    }
}

/// The webhook endpoint records of the embedded store. Clones share them.
#[derive(Clone, Debug)]
pub struct EmbeddedEndpointStore {
    pub(super) store: EmbeddedStore,
}

impl EmbeddedEndpointStore {
    fn table(&self) -> &EndpointTable {
        &self.store.shared.endpoints
    }
}

impl EndpointStore for EmbeddedEndpointStore {
    async fn all(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        self.table().records.all().await
    }

    async fn get(&self, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        self.table().records.get(id).await
    }

    async fn put(&self, record: &EndpointRecord, expected: u64) -> Result<bool, StoreError> {
        let table = self.table();
        let _one = table.write.lock().await;
        if !table.records.would_win(&record.id, expected) {
            return Ok(false);
        }
        let op = Op::PutEndpoint {
            id: record.id.clone(),
            json: record.to_json(),
        };
        // On disk first: a failed commit changes nothing, here or at the next start.
        self.store.shared.writer.commit(vec![op]).await?;
        Ok(table.records.put_now(record, expected))
    }

    async fn remove(&self, id: &str, expected: u64) -> Result<bool, StoreError> {
        let table = self.table();
        let _one = table.write.lock().await;
        if expected == 0 || !table.records.would_win(id, expected) {
            return Ok(false);
        }
        let op = Op::DeleteEndpoint { id: id.to_owned() };
        self.store.shared.writer.commit(vec![op]).await?;
        Ok(table.records.remove_now(id, expected))
    }

    async fn generation(&self) -> Result<u64, StoreError> {
        self.table().records.generation().await
    }
}
