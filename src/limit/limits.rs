use std::fmt;

use super::windows::Windows;

/// A key's limits: requests per second and per minute, each enforced over its window (1 s and
/// 60 s unless [`Limits::with_windows`] says otherwise). `None` means no limit on that window.
///
/// A limit of 0 refuses every request (with `Retry-After` the window's length); the config file
/// refuses 0 as an error, so it is reached only through the API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Requests per second, on average over the per-second window.
    pub per_second: Option<u32>,
    /// Requests per minute, on average over the per-minute window.
    pub per_minute: Option<u32>,
    /// The windows' lengths.
    pub windows: Windows,
}

impl Limits {
    /// Limits with both rates, over the default windows (1 s and 60 s).
    pub const fn new(per_second: Option<u32>, per_minute: Option<u32>) -> Self {
        Limits {
            per_second,
            per_minute,
            windows: Windows::DEFAULT,
        }
    }

    /// These rates over `windows`.
    #[must_use]
    pub const fn with_windows(mut self, windows: Windows) -> Self {
        self.windows = windows;
        self
    }

    /// The requests the per-second window admits: `rps × rps_window` in seconds.
    pub fn per_second_quota(&self) -> Option<u32> {
        let seconds = self.windows.rps_window().as_secs();
        self.per_second.map(|rate| quota(rate, seconds, 1))
    }

    /// The requests the per-minute window admits: `rpm × rpm_window` in minutes, rounded down.
    pub fn per_minute_quota(&self) -> Option<u32> {
        let seconds = self.windows.rpm_window().as_secs();
        self.per_minute.map(|rate| quota(rate, seconds, 60))
    }

    /// Whether neither window is limited.
    pub const fn is_unlimited(&self) -> bool {
        self.per_second.is_none() && self.per_minute.is_none()
    }
}

/// Which window a figure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// The per-second window (1 s unless configured), policy name `rps`.
    PerSecond,
    /// The per-minute window (60 s unless configured), policy name `rpm`.
    PerMinute,
}

impl WindowKind {
    /// The policy name in `RateLimit-Policy`: `rps` or `rpm`.
    pub const fn policy_name(self) -> &'static str {
        match self {
            WindowKind::PerSecond => "rps",
            WindowKind::PerMinute => "rpm",
        }
    }

    /// The window's default length in seconds (a key's may differ: [`WindowStatus::window_secs`]).
    pub const fn seconds(self) -> u64 {
        match self {
            WindowKind::PerSecond => 1,
            WindowKind::PerMinute => 60,
        }
    }
}

impl fmt::Display for WindowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.policy_name())
    }
}

/// One window's part of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowStatus {
    /// Which window.
    pub kind: WindowKind,
    /// Requests it admits: the rate times the window's length (`q` of `RateLimit-Policy`).
    pub limit: u32,
    /// Its length in seconds (`w` of `RateLimit-Policy`).
    pub window_secs: u64,
    /// Requests left in it after this decision.
    pub remaining: u64,
    /// Seconds until some of it frees (the draft's `t`), rounded up. For a window that refused
    /// the request: seconds until it admits one more.
    pub reset_secs: u64,
}

/// Whether a request is admitted, and the figures for the `RateLimit` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Admitted or refused.
    pub admitted: bool,
    /// When refused: whole seconds until a retry can be admitted, at least 1.
    pub retry_after_secs: u64,
    /// The per-second window, when limited.
    pub per_second: Option<WindowStatus>,
    /// The per-minute window, when limited.
    pub per_minute: Option<WindowStatus>,
    /// Refused only because the limiter tracks as many keys as it may, all of them active.
    pub at_capacity: bool,
}

impl Decision {
    /// The decision for a key with no limits.
    pub const UNLIMITED: Decision = Decision {
        admitted: true,
        retry_after_secs: 0,
        per_second: None,
        per_minute: None,
        at_capacity: false,
    };

    /// The window the `RateLimit` field reports. Refused: the window holding the request back
    /// longest (its `reset_secs` is then the `Retry-After`). Admitted: the window closest to
    /// exhaustion, and of two equally close the one that frees later.
    pub fn tightest(&self) -> Option<WindowStatus> {
        let windows = [self.per_second, self.per_minute].into_iter().flatten();
        if !self.admitted {
            return windows
                .filter(|w| w.remaining == 0)
                .max_by_key(|w| w.reset_secs);
        }
        let used = |w: &WindowStatus| 1.0 - w.remaining as f64 / f64::from(w.limit.max(1));
        windows.max_by(|a, b| {
            used(a)
                .total_cmp(&used(b))
                .then(a.reset_secs.cmp(&b.reset_secs))
        })
    }
}

/// `rate × seconds / per`, rounded down, at most `u32::MAX`; a positive rate admits at least 1.
fn quota(rate: u32, seconds: u64, per: u64) -> u32 {
    let admitted = u64::from(rate) * seconds / per;
    match u32::try_from(admitted) {
        Ok(0) if rate > 0 => 1,
        Ok(admitted) => admitted,
        Err(_) => u32::MAX,
    }
}

/// Milliseconds to whole seconds, rounded up.
pub(crate) fn ceil_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}
