//! The in-memory limiter: a [`GroupLog`] pair per key in a DashMap, with idle keys evicted and
//! the number of keys bounded.

use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::DashMap;

use super::limits::{Decision, Limits, WindowKind, WindowStatus, ceil_secs};
use super::window::{GroupLog, Span, WindowCheck};
use crate::clock::Timestamp;

/// How often idle keys are swept out when the limiter is not full.
const SWEEP_EVERY_MS: i64 = 60_000;
/// How often a full limiter may sweep: a flood of new keys must not turn every request into a
/// scan of the whole table.
const FULL_SWEEP_EVERY_MS: i64 = 1_000;

/// The state of one key: 120 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct KeyState {
    /// The latest time seen; earlier readings are taken as this one.
    last_ms: i64,
    /// The windows' lengths in seconds when their logs were written (0: never).
    second_secs: u32,
    minute_secs: u32,
    second: GroupLog,
    minute: GroupLog,
}

/// Per-key sliding windows in process memory.
///
/// Keys are stored as a 64-bit keyed hash of their identity, not as the identity itself, which
/// keeps the state of a key at 120 bytes whatever its name. Two keys whose hashes collide
/// (probability about 3 in 10^8 among a million keys) share one state: both are limited by their
/// combined traffic, so a collision can refuse early but never admit more than a limit.
#[derive(Debug)]
pub struct SlidingWindowLimiter {
    states: DashMap<u64, KeyState, BuildHasherDefault<PreHashed>>,
    hasher: RandomState,
    max_keys: usize,
    last_sweep_ms: AtomicI64,
}

impl SlidingWindowLimiter {
    /// The default bound on tracked keys.
    pub const DEFAULT_MAX_KEYS: usize = 1 << 20;

    /// A limiter tracking at most `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        SlidingWindowLimiter {
            states: DashMap::default(),
            hasher: RandomState::new(),
            max_keys,
            last_sweep_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// How many keys are tracked now.
    pub fn tracked_keys(&self) -> usize {
        self.states.len()
    }

    /// The bound on tracked keys.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Admits or refuses one request of `key` at `now`, and records it when admitted.
    pub fn check<K: Hash + ?Sized>(&self, key: &K, limits: Limits, now: Timestamp) -> Decision {
        if limits.is_unlimited() {
            return Decision::UNLIMITED;
        }
        let now_ms = now.unix_millis();
        self.sweep_if_due(now_ms, false);
        let hash = self.hasher.hash_one(key);
        if let Some(mut state) = self.states.get_mut(&hash) {
            return state.decide(limits, now_ms);
        }
        if self.states.len() >= self.max_keys {
            self.sweep_if_due(now_ms, true);
            if self.states.len() >= self.max_keys {
                // Every tracked key is active. Forgetting one could admit what its limits
                // refuse, so the newcomer waits instead.
                return Decision::at_capacity(limits);
            }
        }
        self.states.entry(hash).or_default().decide(limits, now_ms)
    }

    /// Removes keys with nothing live, at most once per period.
    fn sweep_if_due(&self, now_ms: i64, full: bool) {
        let period = if full {
            FULL_SWEEP_EVERY_MS
        } else {
            SWEEP_EVERY_MS
        };
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < period {
            return;
        }
        // One thread sweeps; the others go on.
        if self
            .last_sweep_ms
            .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.states.retain(|_, state| !state.is_idle(now_ms));
        }
    }
}

impl Default for SlidingWindowLimiter {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_KEYS)
    }
}

impl KeyState {
    /// Decides one request at `now` under `limits`, and records it when admitted.
    fn decide(&mut self, limits: Limits, now_ms: i64) -> Decision {
        let now_ms = now_ms.max(self.last_ms);
        let idle_ms = now_ms - self.last_ms;
        let (second_span, minute_span) = spans(limits);
        // A window whose length changed (the key's record was edited, or instances with other
        // defaults share the key) keeps what it holds, recounted in the new length's unit:
        // starting it over would free a key whose length goes back and forth.
        let second_secs = secs_of(limits.windows.rps_window());
        window_at(
            &mut self.second,
            &mut self.second_secs,
            second_secs,
            idle_ms,
            now_ms,
        );
        let minute_secs = secs_of(limits.windows.rpm_window());
        window_at(
            &mut self.minute,
            &mut self.minute_secs,
            minute_secs,
            idle_ms,
            now_ms,
        );
        self.last_ms = now_ms;
        let second = limits.per_second_quota().map(|limit| Checked {
            limit,
            span: second_span,
            check: self.second.check(second_span, limit, now_ms),
        });
        let minute = limits.per_minute_quota().map(|limit| Checked {
            limit,
            span: minute_span,
            check: self.minute.check(minute_span, limit, now_ms),
        });
        let admitted = second.is_none_or(|w| w.check.fits) && minute.is_none_or(|w| w.check.fits);
        if admitted {
            if let Some(w) = second {
                self.second.record(w.span, w.limit, now_ms);
            }
            if let Some(w) = minute {
                self.minute.record(w.span, w.limit, now_ms);
            }
        }
        decision_of(second, minute, admitted)
    }

    /// Whether both windows are empty at `now`, so forgetting the key changes no decision.
    fn is_idle(&self, now_ms: i64) -> bool {
        let now_ms = now_ms.max(self.last_ms);
        let idle_ms = now_ms - self.last_ms;
        let empty = |log: &GroupLog, secs: u32| {
            let span = Span::of_secs(u64::from(secs));
            idle_ms >= span.length_ms || log.is_empty_at(span, now_ms)
        };
        empty(&self.second, self.second_secs) && empty(&self.minute, self.minute_secs)
    }
}

/// Brings one window of a key to `secs` at `now`: empty after a whole window of idleness,
/// recounted when its length changed.
fn window_at(log: &mut GroupLog, held_secs: &mut u32, secs: u32, idle_ms: i64, now_ms: i64) {
    let span = Span::of_secs(u64::from(secs));
    if idle_ms >= span.length_ms {
        *log = GroupLog::default();
    } else if *held_secs != secs {
        log.rescale(Span::of_secs(u64::from(*held_secs)), span, now_ms);
    }
    *held_secs = secs;
}

/// Whole seconds of a window's length (at most a day: it fits).
fn secs_of(length: std::time::Duration) -> u32 {
    u32::try_from(length.as_secs()).unwrap_or(u32::MAX)
}

/// The spans of both windows of `limits`.
pub(crate) fn spans(limits: Limits) -> (Span, Span) {
    (
        Span::of_secs(limits.windows.rps_window().as_secs()),
        Span::of_secs(limits.windows.rpm_window().as_secs()),
    )
}

/// One window's check: its quota, its span, and what it said.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checked {
    pub(crate) limit: u32,
    pub(crate) span: Span,
    pub(crate) check: WindowCheck,
}

/// The decision from both windows' checks (shared with the Redis store, whose script checks
/// the same way).
pub(crate) fn decision_of(
    second: Option<Checked>,
    minute: Option<Checked>,
    admitted: bool,
) -> Decision {
    let wait_ms = [second, minute]
        .iter()
        .flatten()
        .map(|w| w.check.wait_ms)
        .max()
        .unwrap_or(0);
    Decision {
        admitted,
        retry_after_secs: if admitted {
            0
        } else {
            ceil_secs(wait_ms).max(1)
        },
        per_second: second.map(|w| status(WindowKind::PerSecond, w, admitted)),
        per_minute: minute.map(|w| status(WindowKind::PerMinute, w, admitted)),
        at_capacity: false,
    }
}

fn status(kind: WindowKind, window: Checked, admitted: bool) -> WindowStatus {
    let Checked { limit, span, check } = window;
    let used = check.live_count + u64::from(admitted);
    // An admission into an empty window frees a whole window from now.
    let reset_ms = if check.reset_ms == 0 && admitted {
        span.length_ms
    } else {
        check.reset_ms
    };
    WindowStatus {
        kind,
        limit,
        window_secs: ceil_secs(span.length_ms),
        remaining: u64::from(limit).saturating_sub(used),
        reset_secs: ceil_secs(reset_ms),
    }
}

impl Decision {
    fn at_capacity(limits: Limits) -> Decision {
        let refused = |kind: WindowKind, limit: u32, window: std::time::Duration| WindowStatus {
            kind,
            limit,
            window_secs: window.as_secs(),
            remaining: 0,
            reset_secs: 1,
        };
        let windows = limits.windows;
        Decision {
            admitted: false,
            retry_after_secs: 1,
            per_second: limits
                .per_second_quota()
                .map(|l| refused(WindowKind::PerSecond, l, windows.rps_window())),
            per_minute: limits
                .per_minute_quota()
                .map(|l| refused(WindowKind::PerMinute, l, windows.rpm_window())),
            at_capacity: true,
        }
    }
}

/// The map's keys are already keyed SipHash values; hashing them again would cost time and add
/// nothing.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `u64` keys; fold anything else in so nothing is lost.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}
