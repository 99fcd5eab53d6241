//! `RedisTombstones`: tombstones shared by every instance, expired by Redis itself.
//!
//! What is stored where (under the connection's prefix): `tomb:<kind>:<id>` is `1` while the
//! tombstone stands, with a Redis expiry at the instant `at + keep_for`, the same instant
//! [`MemoryTombstones`](crate::tombstone::MemoryTombstones) uses. Redis compares it with its own
//! clock, so instances with skewed clocks agree on whether a tombstone still stands, and
//! [`TombstoneStore::purge_expired`] has nothing to do.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::RedisConnection;
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::tombstone::{TombstoneKind, TombstoneStore};

/// Leaves a tombstone unless a longer one stands (`tombstone_leave.lua`).
static LEAVE: LazyLock<Script> = lua_script!("tombstone_leave.lua");

/// Tombstones in Redis. Clones share one connection.
#[derive(Clone, Debug)]
pub struct RedisTombstones {
    connection: RedisConnection,
    keep_for: Duration,
}

impl RedisTombstones {
    /// The default period a tombstone is kept: 90 days.
    pub const DEFAULT_KEEP_FOR: Duration = Duration::from_secs(90 * 86_400);

    /// Tombstones on `connection`, each kept for `keep_for` from the instant it is left at.
    pub fn new(connection: RedisConnection, keep_for: Duration) -> Self {
        RedisTombstones {
            connection,
            keep_for,
        }
    }

    /// How long a tombstone is kept.
    pub fn keep_for(&self) -> Duration {
        self.keep_for
    }

    /// The key of the tombstone of `id`, under this store's own prefix.
    pub(super) fn key(&self, kind: TombstoneKind, id: &str) -> String {
        self.connection.keyspace().tombstone(kind, id)
    }
}

impl TombstoneStore for RedisTombstones {
    fn leave(
        &self,
        kind: TombstoneKind,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let key = self.key(kind, id);
        let expires = at.saturating_add(self.keep_for).unix_millis();
        let connection = self.connection.clone();
        async move {
            let mut manager = connection.manager();
            connection
                .timed(
                    LEAVE
                        .key(&key)
                        .arg(expires)
                        .invoke_async::<i64>(&mut manager),
                )
                .await
                .map(|_| ())
        }
    }

    /// Whether the tombstone's key exists: Redis's clock decides, `now` is not used.
    fn contains(
        &self,
        kind: TombstoneKind,
        id: &str,
        _now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let key = self.key(kind, id);
        let connection = self.connection.clone();
        async move {
            let mut manager = connection.manager();
            connection
                .timed(
                    redis::cmd("EXISTS")
                        .arg(&key)
                        .query_async::<bool>(&mut manager),
                )
                .await
        }
    }

    /// Nothing to do: Redis removes expired tombstones itself. Always `Ok(0)`.
    fn purge_expired(
        &self,
        _now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        std::future::ready(Ok(0))
    }
}
