//! The server's tombstones: in memory, or in Redis with `store.backend = "redis"` so that every
//! instance sees them. Handlers get them from the request extensions.

use memorysync_pipeline::clock::Timestamp;
#[cfg(feature = "redis")]
use memorysync_pipeline::redis_store::RedisTombstones;
use memorysync_pipeline::store::StoreError;
use memorysync_pipeline::tombstone::{MemoryTombstones, TombstoneKind, TombstoneStore};

#[derive(Clone, Debug)]
pub(crate) enum Tombstones {
    Memory(MemoryTombstones),
    #[cfg(feature = "redis")]
    Redis(RedisTombstones),
}

impl Tombstones {
    pub(crate) async fn leave(
        &self,
        kind: TombstoneKind,
        id: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        match self {
            Tombstones::Memory(store) => store.leave(kind, id, at).await,
            #[cfg(feature = "redis")]
            Tombstones::Redis(store) => store.leave(kind, id, at).await,
        }
    }
}
