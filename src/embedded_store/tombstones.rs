//! `EmbeddedTombstones`: tombstones answered from memory, each committed to disk before
//! [`TombstoneStore::leave`] returns.

use std::future::{Future, ready};

use super::EmbeddedStore;
use super::writer::Op;
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::tombstone::{MemoryTombstones, TombstoneKind, TombstoneStore};

/// Tombstones of the embedded store. Clones share them.
#[derive(Clone, Debug)]
pub struct EmbeddedTombstones {
    pub(super) store: EmbeddedStore,
}

impl EmbeddedTombstones {
    /// The in-memory set the answers come from, which the audit log's expiry purges.
    pub fn in_memory(&self) -> &MemoryTombstones {
        &self.store.shared.tombstones
    }
}

/// The kind a stored name stands for.
pub(super) fn kind_of(name: &str) -> Option<TombstoneKind> {
    [
        TombstoneKind::ApiKeyId,
        TombstoneKind::ApiKeyHash,
        TombstoneKind::Memory,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == name)
}

impl TombstoneStore for EmbeddedTombstones {
    async fn leave(&self, kind: TombstoneKind, id: &str, at: Timestamp) -> Result<(), StoreError> {
        let tombstones = &self.store.shared.tombstones;
        let op = Op::PutTombstone {
            kind,
            id: Box::from(id),
            expires: tombstones.expiry_from(at),
        };
        self.store.shared.writer.commit(vec![op]).await?;
        tombstones.leave_now(kind, id, at);
        Ok(())
    }

    fn contains(
        &self,
        kind: TombstoneKind,
        id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.store.shared.tombstones.contains_now(kind, id, now)))
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        let expired = self.store.shared.tombstones.take_expired(now);
        let count = expired.len();
        let ops = expired
            .into_iter()
            .map(|(kind, id)| Op::DeleteTombstone { kind, id })
            .collect::<Vec<_>>();
        if !ops.is_empty() {
            self.store.shared.writer.commit(ops).await?;
        }
        Ok(count)
    }
}
