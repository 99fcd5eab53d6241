//! `[limits]`: the window lengths of keys that set none of their own, and the reading of a
//! window length wherever the file gives one (`[limits]` and `[[keys]]`).

use std::time::Duration;

use toml::Spanned;

use super::ConfigError;
use super::raw::RawLimits;
use super::validate::Lines;
use crate::limit::{WindowName, Windows};

/// `[limits]`: defaults for every key whose record sets no window of its own.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// `rps_window` (1 s when absent) and `rpm_window` (60 s when absent).
    pub windows: Windows,
}

/// Checks `[limits]`: each window a duration within its bounds, the line named otherwise.
pub(super) fn validate(lines: &Lines<'_>, raw: RawLimits) -> Result<LimitsConfig, ConfigError> {
    let defaults = Windows::DEFAULT;
    let rps_window = window(lines, WindowName::Rps, raw.rps_window)?;
    let rpm_window = window(lines, WindowName::Rpm, raw.rpm_window)?;
    Ok(LimitsConfig {
        windows: defaults.overridden_by(rps_window, rpm_window),
    })
}

/// A window length written as a duration (`"4s"`, `"10m"`), checked against its bounds.
pub(super) fn window(
    lines: &Lines<'_>,
    name: WindowName,
    value: Option<Spanned<String>>,
) -> Result<Option<Duration>, ConfigError> {
    value
        .map(|text| {
            name.parse(text.get_ref())
                .map_err(|error| lines.error(&text, error.to_string()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const HEAD: &str = "environment = \"development\"\n";

    #[test]
    fn an_absent_table_or_field_takes_the_defaults() {
        let config = Config::from_toml(HEAD).expect("a valid config");
        assert_eq!(config.limits.windows, Windows::DEFAULT);
        let text = format!("{HEAD}[limits]\nrps_window = \"4s\"\n");
        let windows = Config::from_toml(&text)
            .expect("a valid config")
            .limits
            .windows;
        assert_eq!(windows.rps_window(), Duration::from_secs(4));
        assert_eq!(windows.rpm_window(), Duration::from_secs(60));
    }

    #[test]
    fn both_windows_are_read_at_their_bounds() {
        let text = format!("{HEAD}[limits]\nrps_window = \"1h\"\nrpm_window = \"24h\"\n");
        let windows = Config::from_toml(&text)
            .expect("a valid config")
            .limits
            .windows;
        assert_eq!(windows.rps_window(), Duration::from_secs(3_600));
        assert_eq!(windows.rpm_window(), Duration::from_secs(86_400));
    }

    #[test]
    fn a_bad_window_or_an_unknown_field_names_its_line() {
        for (line, message) in [
            ("rps_window = \"0s\"", "rps_window must be whole seconds"),
            ("rps_window = \"2h\"", "rps_window must be whole seconds"),
            (
                "rps_window = \"1500ms\"",
                "rps_window must be whole seconds",
            ),
            ("rpm_window = \"59s\"", "rpm_window must be whole seconds"),
            ("rpm_window = \"25h\"", "rpm_window must be whole seconds"),
            ("rpm_window = \"a minute\"", "rpm_window must be a duration"),
            ("rps_window = 4", "invalid type"),
            ("burst = 3", "unknown field"),
        ] {
            let text = format!("{HEAD}[limits]\n\n{line}\n");
            let error = Config::from_toml(&text).expect_err(line);
            assert_eq!(error.line(), Some(4), "{line}: {error}");
            assert!(error.to_string().contains(message), "{line}: {error}");
        }
    }
}
