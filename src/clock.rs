//! The injectable clock behind every time-dependent decision.
//!
//! Every stage reads time through [`Clock`] so that tests move time by hand instead of sleeping,
//! and so that a clock that jumps backwards (NTP, a VM restore) is a case the stages handle rather
//! than an assumption they make.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time, in UTC.
pub trait Clock: Send + Sync + 'static {
    /// The current instant as a UTC timestamp.
    fn now(&self) -> Timestamp;
}

/// Milliseconds since the Unix epoch, UTC.
///
/// A plain integer rather than [`SystemTime`] because stored records (expiry, revocation, usage)
/// and the Redis scripts all speak integers, and because comparisons of two
/// timestamps must never fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// A timestamp from whole seconds since the Unix epoch, saturating at the representable range.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// This timestamp moved forward by `by`, saturating.
    #[must_use]
    pub fn saturating_add(self, by: Duration) -> Self {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// This timestamp moved back by `by`, saturating.
    #[must_use]
    pub fn saturating_sub(self, by: Duration) -> Self {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(millis))
    }

    /// Parses an RFC 3339 timestamp such as `2027-01-01T00:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, time::error::Parse> {
        let parsed =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)?;
        let millis = parsed.unix_timestamp_nanos() / 1_000_000;
        // An RFC 3339 year has four digits, so the value always fits in an i64 of milliseconds.
        Ok(Timestamp(i64::try_from(millis).unwrap_or(i64::MAX)))
    }

    /// Formats this timestamp as RFC 3339 in UTC, e.g. `2026-11-26T04:02:45.123Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| format!("@{}ms", self.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp(millis)
    }
}

/// A clock that moves only when told to: for tests, simulations and replays.
///
/// Clones share one time, so a test keeps a clone and advances the clock that the stages read.
#[derive(Clone, Debug)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            millis: Arc::new(AtomicI64::new(start.0)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // Saturating, so a test that jumps to the far future does not wrap into the past.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(millis))
            });
    }

    /// Puts the clock at `at`, which may be in the past: clocks do jump backwards.
    pub fn set(&self, at: Timestamp) {
        self.millis.store(at.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.millis.load(Ordering::SeqCst))
    }
}

/// A shared clock reads the clock it shares: one clock handed to several stages.
impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The clock a stage holds: shared, cheap to clone.
pub(crate) type SharedClock = Arc<dyn Clock>;

pub(crate) fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(t.unix_millis(), 1_798_761_600_000);
        assert_eq!(t.to_rfc3339(), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn manual_clock_moves_both_ways() {
        let clock = ManualClock::new(Timestamp::from_unix_secs(100));
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now().unix_millis(), 101_500);
        clock.set(Timestamp::from_unix_secs(50));
        assert_eq!(clock.now(), Timestamp::from_unix_secs(50));
    }
}
