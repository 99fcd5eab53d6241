use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::KeyHash;
use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::store::RecordOwner;

/// A key's stored record. It holds the key's hash, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public id, e.g. `key_demo`: safe to log and to audit.
    pub id: Arc<str>,
    /// The SHA-256 of the whole key.
    pub sha256: KeyHash,
    /// The one project the key belongs to.
    pub project: Arc<str>,
    /// The one environment the key belongs to; its tag must agree.
    pub environment: Environment,
    /// Requests per second; `None` means no per-second limit.
    pub rps: Option<u32>,
    /// Requests per minute; `None` means no per-minute limit.
    pub rpm: Option<u32>,
    /// The per-second rate's window; `None`: the deployment's default (`[limits]`, else 1 s).
    pub rps_window: Option<Duration>,
    /// The per-minute rate's window; `None`: the deployment's default (`[limits]`, else 60 s).
    pub rpm_window: Option<Duration>,
    /// The key is refused from this instant on.
    pub expires_at: Option<Timestamp>,
    /// The key was revoked at this instant.
    pub revoked_at: Option<Timestamp>,
    /// Who manages the record: the config file or the admin API.
    pub owner: RecordOwner,
}

impl KeyRecord {
    /// A record with no limits, expiry or revocation, owned by the API (the file's records are
    /// [`RecordOwner::Config`]).
    pub fn new(
        id: impl Into<Arc<str>>,
        sha256: KeyHash,
        project: impl Into<Arc<str>>,
        environment: Environment,
    ) -> Self {
        KeyRecord {
            id: id.into(),
            sha256,
            project: project.into(),
            environment,
            rps: None,
            rpm: None,
            rps_window: None,
            rpm_window: None,
            expires_at: None,
            revoked_at: None,
            owner: RecordOwner::Api,
        }
    }

    /// Sets who manages the record.
    #[must_use]
    pub fn with_owner(mut self, owner: RecordOwner) -> Self {
        self.owner = owner;
        self
    }

    /// Sets the per-second and per-minute limits.
    #[must_use]
    pub fn with_limits(mut self, rps: Option<u32>, rpm: Option<u32>) -> Self {
        self.rps = rps;
        self.rpm = rpm;
        self
    }

    /// Sets the windows of the two limits (`None`: the deployment's default).
    #[must_use]
    pub fn with_windows(
        mut self,
        rps_window: Option<Duration>,
        rpm_window: Option<Duration>,
    ) -> Self {
        self.rps_window = rps_window;
        self.rpm_window = rpm_window;
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: Timestamp) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether the key is revoked at `now`.
    pub fn is_revoked(&self, now: Timestamp) -> bool {
        self.revoked_at.is_some_and(|at| at <= now)
    }

    /// Whether the key is expired at `now`: the expiry instant itself is already expired.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// How much a key has been used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Requests the key authenticated.
    pub request_count: u64,
    /// The last one, if any.
    pub last_used: Option<Timestamp>,
}

/// A record as a store hands it to the auth stage, with the usage counters that the stage bumps.
///
/// Counters live next to the record so that counting a request is two atomic operations on memory
/// the look-up already touched: no second map look-up, no lock, no allocation.
pub struct KeyEntry {
    record: KeyRecord,
    request_count: AtomicU64,
    last_used_millis: AtomicI64,
}

/// `last_used_millis` before any use.
const NEVER: i64 = i64::MIN;

impl KeyEntry {
    /// An entry that has never been used.
    pub fn new(record: KeyRecord) -> Self {
        Self::with_usage(
            record,
            KeyUsage {
                request_count: 0,
                last_used: None,
            },
        )
    }

    /// An entry carrying usage counted earlier (a revoked record replacing its live one).
    pub fn with_usage(record: KeyRecord, usage: KeyUsage) -> Self {
        KeyEntry {
            record,
            request_count: AtomicU64::new(usage.request_count),
            last_used_millis: AtomicI64::new(usage.last_used.map_or(NEVER, Timestamp::unix_millis)),
        }
    }

    /// The record.
    pub fn record(&self) -> &KeyRecord {
        &self.record
    }

    /// Counts one request at `at`. `last_used` never moves backwards, even when the clock does.
    pub fn record_use(&self, at: Timestamp) {
        self.request_count.fetch_add(1, Ordering::Relaxed);
        self.last_used_millis
            .fetch_max(at.unix_millis(), Ordering::Relaxed);
    }

    /// The usage so far.
    pub fn usage(&self) -> KeyUsage {
        let last = self.last_used_millis.load(Ordering::Relaxed);
        KeyUsage {
            request_count: self.request_count.load(Ordering::Relaxed),
            last_used: (last != NEVER).then(|| Timestamp::from_unix_millis(last)),
        }
    }
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("record", &self.record)
            .field("usage", &self.usage())
            .finish()
    }
}
