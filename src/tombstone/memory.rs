use std::future::{Future, ready};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use super::{TombstoneKind, TombstoneStore};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// Tombstones in process memory. Clones share one set.
#[derive(Clone, Debug)]
pub struct MemoryTombstones {
    expiry_by_id: Arc<DashMap<(TombstoneKind, Box<str>), Timestamp>>,
    keep_for: Duration,
}

impl MemoryTombstones {
    /// The default period a tombstone is kept: 90 days.
    pub const DEFAULT_KEEP_FOR: Duration = Duration::from_secs(90 * 86_400);

    /// An empty set whose tombstones are kept for `keep_for`.
    pub fn new(keep_for: Duration) -> Self {
        MemoryTombstones {
            expiry_by_id: Arc::new(DashMap::new()),
            keep_for,
        }
    }

    /// How many tombstones are held, expired or not.
    pub fn len(&self) -> usize {
        self.expiry_by_id.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.expiry_by_id.is_empty()
    }

    pub(crate) fn contains_now(&self, kind: TombstoneKind, id: &str, now: Timestamp) -> bool {
        self.expiry_by_id
            .get(&(kind, Box::from(id)))
            .is_some_and(|expires| now < *expires)
    }

    /// The tombstone's expiry, kept for `keep_for` from `at`.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn expiry_from(&self, at: Timestamp) -> Timestamp {
        at.saturating_add(self.keep_for)
    }

    /// Puts back a tombstone read from a durable store, expiring at `expires`.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn restore(&self, kind: TombstoneKind, id: &str, expires: Timestamp) {
        self.expiry_by_id
            .entry((kind, Box::from(id)))
            .and_modify(|e| *e = (*e).max(expires))
            .or_insert(expires);
    }

    /// Removes the tombstones expired at `now` and names them.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn take_expired(&self, now: Timestamp) -> Vec<(TombstoneKind, Box<str>)> {
        let mut expired = Vec::new();
        self.expiry_by_id.retain(|(kind, id), expires| {
            let keep = now < *expires;
            if !keep {
                expired.push((*kind, id.clone()));
            }
            keep
        });
        expired
    }

    pub(crate) fn leave_now(&self, kind: TombstoneKind, id: &str, at: Timestamp) {
        let expires = at.saturating_add(self.keep_for);
        self.expiry_by_id
            .entry((kind, Box::from(id)))
            // A second deletion never shortens the first tombstone.
            .and_modify(|e| *e = (*e).max(expires))
            .or_insert(expires);
    }
}

impl Default for MemoryTombstones {
    fn default() -> Self {
        Self::new(Self::DEFAULT_KEEP_FOR)
    }
}

impl TombstoneStore for MemoryTombstones {
    fn leave(
        &self,
        kind: TombstoneKind,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.leave_now(kind, id, at);
        ready(Ok(()))
    }

    fn contains(
        &self,
        kind: TombstoneKind,
        id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.contains_now(kind, id, now)))
    }

    fn purge_expired(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        let before = self.expiry_by_id.len();
        self.expiry_by_id.retain(|_, expires| now < *expires);
        ready(Ok(before.saturating_sub(self.expiry_by_id.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_expire_after_their_period_to_the_millisecond() {
        let tombstones = MemoryTombstones::new(Duration::from_secs(10));
        let at = Timestamp::from_unix_secs(1000);
        tombstones.leave_now(TombstoneKind::Memory, "mem_1", at);
        assert!(tombstones.contains_now(
            TombstoneKind::Memory,
            "mem_1",
            at.saturating_add(Duration::from_millis(9_999))
        ));
        assert!(!tombstones.contains_now(
            TombstoneKind::Memory,
            "mem_1",
            at.saturating_add(Duration::from_secs(10))
        ));
        assert!(!tombstones.contains_now(TombstoneKind::ApiKeyId, "mem_1", at));
    }

    #[tokio::test]
    async fn purge_removes_only_expired() {
        let tombstones = MemoryTombstones::new(Duration::from_secs(10));
        tombstones.leave_now(TombstoneKind::Memory, "old", Timestamp::from_unix_secs(0));
        tombstones.leave_now(TombstoneKind::Memory, "new", Timestamp::from_unix_secs(5));
        let purged = tombstones
            .purge_expired(Timestamp::from_unix_secs(10))
            .await
            .unwrap();
        assert_eq!(purged, 1);
        assert_eq!(tombstones.len(), 1);
    }
}
