//! How long a key's two windows are: the per-second rate's (`rps_window`, 1 s by default) and
//! the per-minute rate's (`rpm_window`, 60 s by default). A rate `r` over a window `w` admits at
//! most `r × w` requests in any interval of length `w`: a longer window tolerates bursts that a
//! 1 s window refuses, at the same average rate.

use std::fmt;
use std::time::Duration;

/// The lengths of a key's two windows, each within its bounds and a whole number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Windows {
    rps_window: Duration,
    rpm_window: Duration,
}

impl Default for Windows {
    fn default() -> Self {
        Windows::DEFAULT
    }
}

impl Windows {
    /// 1 s for the per-second rate, 60 s for the per-minute rate.
    pub const DEFAULT: Windows = Windows {
        rps_window: Duration::from_secs(1),
        rpm_window: Duration::from_secs(60),
    };
    /// The shortest and longest `rps_window`: 1 s to 1 h.
    pub const RPS_WINDOW: (Duration, Duration) =
        (Duration::from_secs(1), Duration::from_secs(3_600));
    /// The shortest and longest `rpm_window`: 1 min to 24 h.
    pub const RPM_WINDOW: (Duration, Duration) =
        (Duration::from_secs(60), Duration::from_secs(86_400));

    /// Both windows, each checked against its bounds.
    pub fn new(rps_window: Duration, rpm_window: Duration) -> Result<Self, WindowError> {
        Ok(Windows {
            rps_window: WindowName::Rps.check(rps_window)?,
            rpm_window: WindowName::Rpm.check(rpm_window)?,
        })
    }

    /// The per-second rate's window.
    pub const fn rps_window(&self) -> Duration {
        self.rps_window
    }

    /// The per-minute rate's window.
    pub const fn rpm_window(&self) -> Duration {
        self.rpm_window
    }

    /// These windows with the ones a key sets instead (`None`: keep this one). The key's own
    /// were checked when its record was made; they are checked again here, and one out of its
    /// bounds keeps this window.
    #[must_use]
    pub fn overridden_by(self, rps_window: Option<Duration>, rpm_window: Option<Duration>) -> Self {
        Windows {
            rps_window: rps_window
                .and_then(|w| WindowName::Rps.check(w).ok())
                .unwrap_or(self.rps_window),
            rpm_window: rpm_window
                .and_then(|w| WindowName::Rpm.check(w).ok())
                .unwrap_or(self.rpm_window),
        }
    }
}

/// Which window a length is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowName {
    /// `rps_window`: 1 s to 1 h.
    Rps,
    /// `rpm_window`: 1 min to 24 h.
    Rpm,
}

impl WindowName {
    /// The field's name: `rps_window` or `rpm_window`.
    pub const fn field(self) -> &'static str {
        match self {
            WindowName::Rps => "rps_window",
            WindowName::Rpm => "rpm_window",
        }
    }

    /// The shortest and the longest length of this window.
    pub const fn bounds(self) -> (Duration, Duration) {
        match self {
            WindowName::Rps => Windows::RPS_WINDOW,
            WindowName::Rpm => Windows::RPM_WINDOW,
        }
    }

    /// [`bounds`](Self::bounds) as messages write them: `from 1s to 1h`, `from 1m to 24h`.
    pub const fn bounds_text(self) -> &'static str {
        match self {
            WindowName::Rps => "from 1s to 1h",
            WindowName::Rpm => "from 1m to 24h",
        }
    }

    /// `length`, when it is a whole number of seconds within this window's bounds.
    pub fn check(self, length: Duration) -> Result<Duration, WindowError> {
        let (min, max) = self.bounds();
        if length.subsec_nanos() != 0 || length < min || length > max {
            return Err(WindowError {
                window: self,
                given: WindowText::Length(length),
            });
        }
        Ok(length)
    }

    /// A length written as a duration (`"4s"`, `"90s"`, `"10m"`, `"1h"`), checked.
    pub fn parse(self, text: &str) -> Result<Duration, WindowError> {
        let length = humantime::parse_duration(text.trim()).map_err(|_| WindowError {
            window: self,
            given: WindowText::Text(text.chars().take(32).collect()),
        })?;
        self.check(length)
    }
}

/// `length` as the config and the admin API write it: `"4s"`, `"10m"`, `"1h 30m"`.
pub fn format_window(length: Duration) -> String {
    humantime::format_duration(length).to_string()
}

/// A window length out of its bounds, not whole seconds, or not a duration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowError {
    window: WindowName,
    given: WindowText,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum WindowText {
    Length(Duration),
    /// What was written (its first 32 characters).
    Text(String),
}

impl WindowError {
    /// Which window it was for.
    pub fn window(&self) -> WindowName {
        self.window
    }
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bounds = self.window.bounds_text();
        let field = self.window.field();
        match &self.given {
            WindowText::Length(length) => write!(
                f,
                "{field} must be whole seconds {bounds}, not {}",
                humantime::format_duration(*length)
            ),
            WindowText::Text(text) => write!(
                f,
                "{field} must be a duration such as \"4s\" or \"10m\", {bounds}, not {text:?}"
            ),
        }
    }
}

impl std::error::Error for WindowError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_text_says_the_bounds() {
        for name in [WindowName::Rps, WindowName::Rpm] {
            let (min, max) = name.bounds();
            let text = name.bounds_text();
            let (low, high) = text
                .strip_prefix("from ")
                .and_then(|rest| rest.split_once(" to "))
                .unwrap();
            assert_eq!(humantime::parse_duration(low).unwrap(), min, "{text}");
            assert_eq!(humantime::parse_duration(high).unwrap(), max, "{text}");
        }
    }

    #[test]
    fn lengths_parse_within_their_bounds_and_in_whole_seconds() {
        assert_eq!(WindowName::Rps.parse("4s"), Ok(Duration::from_secs(4)));
        assert_eq!(WindowName::Rps.parse("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(WindowName::Rpm.parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(
            WindowName::Rpm.parse("24h"),
            Ok(Duration::from_secs(86_400))
        );
        assert_eq!(WindowName::Rpm.parse(" 90s "), Ok(Duration::from_secs(90)));
        for (window, text) in [
            (WindowName::Rps, "0s"),
            (WindowName::Rps, "1500ms"),
            (WindowName::Rps, "61m"),
            (WindowName::Rpm, "59s"),
            (WindowName::Rpm, "25h"),
            (WindowName::Rpm, "ten minutes"),
            (WindowName::Rpm, ""),
            (WindowName::Rpm, "99999999999999999999h"),
        ] {
            let error = window.parse(text).unwrap_err();
            assert_eq!(error.window(), window);
            assert!(error.to_string().starts_with(window.field()), "{error}");
        }
        assert_eq!(
            WindowName::Rpm.parse("59s").unwrap_err().to_string(),
            "rpm_window must be whole seconds from 1m to 24h, not 59s"
        );
        assert_eq!(format_window(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn a_key_overrides_the_defaults_within_bounds() {
        let windows = Windows::new(Duration::from_secs(2), Duration::from_secs(120)).unwrap();
        assert_eq!(Windows::default(), Windows::DEFAULT);
        let key = windows.overridden_by(Some(Duration::from_secs(4)), None);
        assert_eq!(key.rps_window(), Duration::from_secs(4));
        assert_eq!(key.rpm_window(), Duration::from_secs(120));
        let out_of_bounds = windows.overridden_by(Some(Duration::from_secs(7_200)), None);
        assert_eq!(out_of_bounds, windows);
        assert!(Windows::new(Duration::from_secs(1), Duration::from_secs(30)).is_err());
    }
}
