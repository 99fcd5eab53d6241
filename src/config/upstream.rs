//! `[upstream]`: how the reverse proxy (`memorysync serve --upstream URL`) talks to the service
//! behind it.

use std::time::Duration;

use toml::Spanned;

use super::ConfigError;
use super::raw::RawUpstream;
use super::validate::Lines;

/// `[upstream]`: the reverse proxy's timeouts and connection pool.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamConfig {
    /// How long opening a connection to the upstream may take; past it, 502
    /// `upstream_unavailable`.
    pub connect_timeout: Duration,
    /// How long the upstream may take from the start of a call to its response head, sending
    /// the request body included; past it, 504 `upstream_timeout`.
    pub request_timeout: Duration,
    /// Idle connections kept open to the upstream for reuse; 0 opens one per request.
    pub pool_max_idle: usize,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout: Duration::from_millis(2_000),
            request_timeout: Duration::from_millis(30_000),
            pool_max_idle: 64,
        }
    }
}

/// The longest timeout accepted: one hour.
const MAX_MS: u64 = 3_600_000;
/// The most idle connections accepted: beyond, file descriptors run out first.
const MAX_IDLE: u64 = 100_000;

/// Checks `[upstream]`: each value in its range, the line named otherwise.
pub(super) fn validate(lines: &Lines<'_>, raw: RawUpstream) -> Result<UpstreamConfig, ConfigError> {
    let in_range = |value: Option<Spanned<u64>>, name: &str, min: u64, max: u64| match value {
        None => Ok(None),
        Some(v) if (min..=max).contains(v.get_ref()) => Ok(Some(*v.get_ref())),
        Some(v) => Err(lines.error(&v, format!("{name} must be from {min} to {max}"))),
    };
    let defaults = UpstreamConfig::default();
    let millis = |value, name, default: Duration| {
        in_range(value, name, 1, MAX_MS).map(|ms| ms.map_or(default, Duration::from_millis))
    };
    Ok(UpstreamConfig {
        connect_timeout: millis(
            raw.connect_timeout_ms,
            "connect_timeout_ms",
            defaults.connect_timeout,
        )?,
        request_timeout: millis(
            raw.request_timeout_ms,
            "request_timeout_ms",
            defaults.request_timeout,
        )?,
        pool_max_idle: in_range(raw.pool_max_idle, "pool_max_idle", 0, MAX_IDLE)?
            .map_or(defaults.pool_max_idle, |n| n as usize),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const HEAD: &str = "environment = \"development\"\n";

    #[test]
    fn an_absent_table_or_field_takes_the_defaults() {
        let config = Config::from_toml(HEAD).expect("a valid config");
        assert_eq!(config.upstream, UpstreamConfig::default());
        let text = format!("{HEAD}[upstream]\nrequest_timeout_ms = 250\n");
        let config = Config::from_toml(&text).expect("a valid config");
        assert_eq!(config.upstream.request_timeout, Duration::from_millis(250));
        assert_eq!(
            config.upstream.connect_timeout,
            Duration::from_millis(2_000)
        );
        assert_eq!(config.upstream.pool_max_idle, 64);
    }

    #[test]
    fn every_field_is_read() {
        let text = format!(
            "{HEAD}[upstream]\nconnect_timeout_ms = 100\nrequest_timeout_ms = 900\npool_max_idle = 0\n"
        );
        let upstream = Config::from_toml(&text).expect("a valid config").upstream;
        assert_eq!(upstream.connect_timeout, Duration::from_millis(100));
        assert_eq!(upstream.request_timeout, Duration::from_millis(900));
        assert_eq!(upstream.pool_max_idle, 0);
    }

    #[test]
    fn a_value_out_of_range_or_an_unknown_field_names_its_line() {
        for (line, message) in [
            (
                "connect_timeout_ms = 0",
                "connect_timeout_ms must be from 1 to 3600000",
            ),
            (
                "request_timeout_ms = 3600001",
                "request_timeout_ms must be from 1 to 3600000",
            ),
            (
                "pool_max_idle = 100001",
                "pool_max_idle must be from 0 to 100000",
            ),
            ("pool_max_idle = -1", ""),
            ("read_timeout_ms = 5", "unknown field"),
        ] {
            let text = format!("{HEAD}[upstream]\n\n{line}\n");
            let error = Config::from_toml(&text).expect_err(line);
            assert_eq!(error.line(), Some(4), "{line}: {error}");
            assert!(error.to_string().contains(message), "{line}: {error}");
        }
    }
}
