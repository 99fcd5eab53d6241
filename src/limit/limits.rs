use std::fmt;

/// A key's limits: requests per second and per minute. `None` means no limit on that window.
///
/// A limit of 0 refuses every request (with `Retry-After` the window's length); the config file
/// refuses 0 as an error, so it is reached only through the API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Requests per 1 s window.
    pub per_second: Option<u32>,
    /// Requests per 60 s window.
    pub per_minute: Option<u32>,
}

impl Limits {
    /// Limits with both windows.
    pub const fn new(per_second: Option<u32>, per_minute: Option<u32>) -> Self {
        Limits {
            per_second,
            per_minute,
        }
    }

    /// Whether neither window is limited.
    pub const fn is_unlimited(&self) -> bool {
        self.per_second.is_none() && self.per_minute.is_none()
    }
}

/// Which window a figure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// The 1 s window, policy name `rps`.
    PerSecond,
    /// The 60 s window, policy name `rpm`.
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

    /// The window's length in seconds.
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
    /// Its limit.
    pub limit: u32,
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

/// Milliseconds to whole seconds, rounded up.
pub(crate) fn ceil_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}
