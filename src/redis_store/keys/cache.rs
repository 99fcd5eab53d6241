//! The key cache's rule: when a record this process read may answer a look-up without asking
//! Redis.
//!
//! Every answer is read in a *view*, a number this process bumps whenever a record may have
//! changed anywhere: a change announced on the channel, a generation counter found moved (or a
//! poll that failed), a write of this process. An answer is served from memory only while its
//! view is the current one **and** the last poll that succeeded was sent less than
//! [`KeyCacheOptions::TRUSTED_FOR`] ago. A poll sent after a change reads the moved counter and
//! bumps the view before it extends the trust, so no record is served more than
//! `TRUSTED_FOR` after it changed, whether or not any message arrived.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How the key cache of a [`RedisKeyStore`](super::RedisKeyStore) is bounded and learns of
/// changes. The defaults suit a deployment; see [`RedisKeyStore`](super::RedisKeyStore) for the
/// rule.
#[derive(Clone, Debug)]
#[must_use]
pub struct KeyCacheOptions {
    pub(super) max_records: usize,
    pub(super) max_unknown: usize,
    pub(super) subscribe: bool,
}

impl Default for KeyCacheOptions {
    fn default() -> Self {
        KeyCacheOptions {
            max_records: Self::DEFAULT_MAX_RECORDS,
            max_unknown: Self::DEFAULT_MAX_UNKNOWN,
            subscribe: true,
        }
    }
}

impl KeyCacheOptions {
    /// How long after the last successful poll was sent cached answers are still served: the
    /// longest a change made on any instance can go unseen here.
    pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

    /// How often the generation counter is read: four polls per [`Self::TRUSTED_FOR`], so one
    /// slow or lost poll does not stop the cache from answering.
    pub const POLL_EVERY: Duration = Duration::from_millis(250);

    /// Records kept by default: far more keys than a deployment serves, at a few hundred bytes
    /// each.
    pub const DEFAULT_MAX_RECORDS: usize = 100_000;

    /// "No such key" answers kept by default. Anyone can present new well-formed keys, so this
    /// is what bounds the memory they can take.
    pub const DEFAULT_MAX_UNKNOWN: usize = 10_000;

    /// The defaults: announcements and polls, 100,000 records, 10,000 unknown hashes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps at most `records` records (at least one); past it, records are dropped from the
    /// cache, the ones not confirmed since the last change first, and read again when used.
    pub fn with_max_records(mut self, records: usize) -> Self {
        self.max_records = records.max(1);
        self
    }

    /// Keeps at most `unknown` hashes known to have no record (0: none; every look-up of an
    /// unknown key then asks Redis). When full, they are all forgotten at once.
    pub fn with_max_unknown(mut self, unknown: usize) -> Self {
        self.max_unknown = unknown;
        self
    }

    /// Learns of changes by the poll alone, without a pub/sub subscription: for a Redis whose
    /// ACL refuses `SUBSCRIBE`. Changes made elsewhere then show within
    /// [`Self::TRUSTED_FOR`] instead of at once.
    pub fn without_pubsub(mut self) -> Self {
        self.subscribe = false;
        self
    }
}

/// The current view and until when it may be served; shared by the look-ups, the poll, the
/// subscription and the writes of one store.
#[derive(Debug)]
pub(super) struct Freshness {
    /// Bumped whenever a record may have changed. Starts at 1: an entry confirmed in view 0
    /// was never confirmed.
    view: AtomicU64,
    /// Nanoseconds after `base` until which the current view may be served: the send time of
    /// the last successful poll plus [`KeyCacheOptions::TRUSTED_FOR`]. 0 until a poll succeeds.
    trusted_until: AtomicU64,
    base: Instant,
}

impl Freshness {
    pub(super) fn new() -> Self {
        Freshness {
            view: AtomicU64::new(1),
            trusted_until: AtomicU64::new(0),
            base: Instant::now(),
        }
    }

    /// The view an answer read from now on belongs to. Taken before the read is sent: a change
    /// that lands while it is under way bumps the view past it.
    pub(super) fn view(&self) -> u64 {
        self.view.load(Ordering::Acquire)
    }

    /// The view cached answers may be served in now, if any.
    pub(super) fn servable_view(&self) -> Option<u64> {
        // The deadline first: the poll bumps the view before it moves the deadline, so a
        // deadline seen here comes with every bump made before it.
        let until = self.trusted_until.load(Ordering::Acquire);
        (self.nanos(Instant::now()) < until).then(|| self.view())
    }

    /// Every answer read so far stops being served.
    pub(super) fn invalidate(&self) {
        self.view.fetch_add(1, Ordering::AcqRel);
    }

    /// A poll sent at `sent` succeeded (and bumped the view first if it found a change).
    pub(super) fn trust_from(&self, sent: Instant) {
        let until = self.nanos(sent + KeyCacheOptions::TRUSTED_FOR);
        self.trusted_until.fetch_max(until, Ordering::AcqRel);
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn answers_are_served_only_in_the_current_view_and_within_a_second_of_a_poll() {
        let fresh = Freshness::new();
        assert_eq!(fresh.servable_view(), None, "no poll yet");
        let sent = Instant::now();
        fresh.trust_from(sent);
        let view = fresh.view();
        assert_eq!(fresh.servable_view(), Some(view));
        fresh.invalidate();
        assert_eq!(
            fresh.servable_view(),
            Some(view + 1),
            "older answers are stale"
        );

        tokio::time::advance(KeyCacheOptions::TRUSTED_FOR - Duration::from_millis(1)).await;
        assert!(fresh.servable_view().is_some());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            fresh.servable_view(),
            None,
            "a second after the poll was sent"
        );

        // A slow poll sent before a later one does not pull the deadline back.
        fresh.trust_from(Instant::now());
        fresh.trust_from(sent);
        assert!(fresh.servable_view().is_some());
    }

    #[test]
    fn capacities_have_floors() {
        let options = KeyCacheOptions::new()
            .with_max_records(0)
            .with_max_unknown(0);
        assert_eq!((options.max_records, options.max_unknown), (1, 0));
        assert!(!KeyCacheOptions::new().without_pubsub().subscribe);
    }
}
