//! Tombstones: marks left by deletions that refuse resurrection from backups.
//!
//! Deleting a thing (revoking a key, deleting a memory) leaves a tombstone for its id, kept
//! `tombstone_days` (90 by default). A record restored later from an old backup whose id is
//! tombstoned is refused, so a deletion stays a deletion.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::tombstone::{MemoryTombstones, TombstoneKind, TombstoneStore};
//!
//! # tokio_test_block_on(async {
//! let tombstones = MemoryTombstones::new(Duration::from_secs(90 * 86_400));
//! let now = Timestamp::from_unix_secs(1_800_000_000);
//! tombstones.leave(TombstoneKind::Memory, "mem_1", now).await.unwrap();
//! assert!(tombstones.contains(TombstoneKind::Memory, "mem_1", now).await.unwrap());
//! assert!(!tombstones.contains(TombstoneKind::Memory, "mem_2", now).await.unwrap());
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

mod memory;

pub use memory::MemoryTombstones;

use std::future::Future;

use crate::clock::Timestamp;
use crate::store::StoreError;

/// What a tombstone stands for: ids of different kinds never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TombstoneKind {
    /// An API key's public id.
    ApiKeyId,
    /// An API key's hash (hex), so that a restored record under a new id is refused too.
    ApiKeyHash,
    /// A memory id.
    Memory,
}

impl TombstoneKind {
    /// A short name, used in store keys.
    pub const fn as_str(self) -> &'static str {
        match self {
            TombstoneKind::ApiKeyId => "key_id",
            TombstoneKind::ApiKeyHash => "key_hash",
            TombstoneKind::Memory => "memory",
        }
    }
}

/// A store of tombstones.
pub trait TombstoneStore: Send + Sync + 'static {
    /// Leaves a tombstone for `id`, kept for the store's tombstone period from `at`.
    fn leave(
        &self,
        kind: TombstoneKind,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether `id` has a tombstone that has not expired at `now`.
    fn contains(
        &self,
        kind: TombstoneKind,
        id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes the tombstones expired at `now`; returns how many.
    fn purge_expired(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
