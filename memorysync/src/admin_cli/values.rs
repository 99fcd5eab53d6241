//! The checks on the values commands take, before anything is sent. Each message names the
//! option and says what it takes, never what was given (see [`Failure`]).

use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::config::{RECORD_ID_RULE, is_record_id};
use memorysync_pipeline::key::{AdminToken, ApiKey};
use memorysync_pipeline::limit::{WindowName, format_window};
use serde_json::Value;

use super::failure::{Failure, usage};

/// The longest grace a rotation takes, as the API bounds it: 30 days.
const MAX_GRACE_SECONDS: u64 = 30 * 86_400;

/// A record id (key, project, endpoint, dead letter): the config's rule, and not a secret.
pub(crate) fn id(option: &str, text: &str) -> Result<String, Failure> {
    // A key or token has the shape of an id; sent, it would land in the audit log's paths.
    if ApiKey::parse(text).is_ok() || AdminToken::parse(text).is_ok() {
        return Err(usage(format!(
            "{option} takes an id, and this is an API key or an admin token: nothing was sent"
        )));
    }
    if is_record_id(text) {
        Ok(text.to_owned())
    } else {
        Err(usage(format!("{option}: {RECORD_ID_RULE}")))
    }
}

/// A whole number from 0, e.g. a monthly quota.
pub(crate) fn whole(option: &str, text: &str) -> Result<u64, Failure> {
    text.parse::<u64>().map_err(|_| {
        usage(format!(
            "{option} must be a whole number from 0 to {}",
            u64::MAX
        ))
    })
}

/// A whole number from 1, e.g. a rate limit or a page size.
pub(crate) fn positive(option: &str, text: &str) -> Result<u32, Failure> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(usage(format!(
            "{option} must be a whole number from 1 to {}",
            u32::MAX
        ))),
    }
}

/// [`positive`], or `none` for no limit (JSON `null`).
pub(crate) fn positive_or_none(option: &str, text: &str) -> Result<Value, Failure> {
    if text == "none" {
        return Ok(Value::Null);
    }
    positive(option, text)
        .map(Value::from)
        .map_err(|_| usage(format!("{option} must be a whole number from 1, or none")))
}

/// A window length: a duration such as `4s` or `10m`, whole seconds within the window's bounds
/// (1s to 1h per second, 1m to 24h per minute), written back as the API reads it.
pub(crate) fn window(option: &str, name: WindowName, text: &str) -> Result<String, Failure> {
    name.parse(text)
        .map(format_window)
        .map_err(|_| usage(format!("{option} must be {}", window_rule(name))))
}

/// [`window`], or `none` for the deployment's default (JSON `null`).
pub(crate) fn window_or_none(option: &str, name: WindowName, text: &str) -> Result<Value, Failure> {
    if text == "none" {
        return Ok(Value::Null);
    }
    window(option, name, text)
        .map(Value::from)
        .map_err(|_| usage(format!("{option} must be {}, or none", window_rule(name))))
}

fn window_rule(name: WindowName) -> String {
    format!(
        "a duration such as 4s or 10m, whole seconds {}",
        name.bounds_text()
    )
}

/// An RFC 3339 time, written back in UTC.
pub(crate) fn instant(option: &str, text: &str) -> Result<String, Failure> {
    Timestamp::parse_rfc3339(text)
        .map(Timestamp::to_rfc3339)
        .map_err(|_| {
            usage(format!(
                "{option} must be an RFC 3339 time such as 2027-01-01T00:00:00Z"
            ))
        })
}

/// [`instant`], or `none` for no time (JSON `null`).
pub(crate) fn instant_or_none(option: &str, text: &str) -> Result<Value, Failure> {
    if text == "none" {
        return Ok(Value::Null);
    }
    instant(option, text).map(Value::from).map_err(|_| {
        usage(format!(
            "{option} must be an RFC 3339 time such as 2027-01-01T00:00:00Z, or none"
        ))
    })
}

/// A duration in seconds: a whole number with an optional unit `s`, `m`, `h` or `d` (`90`,
/// `15m`, `24h`, `7d`), at most 30 days.
pub(crate) fn grace(option: &str, text: &str) -> Result<u64, Failure> {
    let (digits, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => 0,
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .filter(|_| scale > 0 && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.checked_mul(scale))
        .filter(|&seconds| seconds <= MAX_GRACE_SECONDS);
    seconds.ok_or_else(|| {
        usage(format!(
            "{option} must be a duration such as 0, 90s, 15m, 24h or 7d, at most 30 days"
        ))
    })
}

/// Alert thresholds in percent: `75,90,100`, each 1 to 100.
pub(crate) fn thresholds(option: &str, text: &str) -> Result<Vec<u8>, Failure> {
    text.split(',')
        .map(|part| match part.trim().parse::<u8>() {
            Ok(n @ 1..=100) => Ok(n),
            _ => Err(usage(format!(
                "{option} must be percentages from 1 to 100, comma-separated, e.g. 75,90,100"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use memorysync_pipeline::Environment;
    use serde_json::json;

    use super::*;

    #[test]
    fn good_values_are_taken_and_written_as_the_api_reads_them() {
        assert_eq!(id("--id", "key_a.1-b").unwrap(), "key_a.1-b");
        assert_eq!(whole("--adds-per-month", "0").unwrap(), 0);
        assert_eq!(positive("--rps", "10").unwrap(), 10);
        assert_eq!(positive_or_none("--rps", "none").unwrap(), Value::Null);
        assert_eq!(positive_or_none("--rps", "7").unwrap(), json!(7));
        assert_eq!(
            instant("--from", "2027-01-01T02:00:00+02:00").unwrap(),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(instant_or_none("--expires", "none").unwrap(), Value::Null);
        assert_eq!(window("--rps-window", WindowName::Rps, "4s").unwrap(), "4s");
        assert_eq!(
            window("--rpm-window", WindowName::Rpm, "90s").unwrap(),
            "1m 30s"
        );
        assert_eq!(
            window_or_none("--rpm-window", WindowName::Rpm, "none").unwrap(),
            Value::Null
        );
        assert_eq!(
            window_or_none("--rpm-window", WindowName::Rpm, "24h").unwrap(),
            json!("1day")
        );
        for (text, seconds) in [
            ("0", 0),
            ("90", 90),
            ("90s", 90),
            ("15m", 900),
            ("7d", 604_800),
        ] {
            assert_eq!(grace("--grace", text).unwrap(), seconds, "{text}");
        }
        assert_eq!(
            thresholds("--alert-thresholds", "50, 100").unwrap(),
            [50, 100]
        );
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_option_and_never_the_value() {
        let key = ApiKey::generate(Environment::Production).unwrap();
        let token = AdminToken::generate().unwrap();
        let secrets = [key.expose_secret(), token.expose_secret()];
        type Check = fn(&str, &str) -> Result<(), Failure>;
        let checks: [(&str, Check); 9] = [
            ("--id", |o, t| id(o, t).map(drop)),
            ("--adds-per-month", |o, t| whole(o, t).map(drop)),
            ("--rps", |o, t| positive(o, t).map(drop)),
            ("--rpm", |o, t| positive_or_none(o, t).map(drop)),
            ("--from", |o, t| instant(o, t).map(drop)),
            ("--grace", |o, t| grace(o, t).map(drop)),
            ("--alert-thresholds", |o, t| thresholds(o, t).map(drop)),
            ("--rps-window", |o, t| {
                window(o, WindowName::Rps, t).map(drop)
            }),
            ("--rpm-window", |o, t| {
                window_or_none(o, WindowName::Rpm, t).map(drop)
            }),
        ];
        for (option, check) in checks {
            for text in ["", "0x1", "-1", "31d", "key one", secrets[0], secrets[1]] {
                let Err(failure) = check(option, text) else {
                    continue;
                };
                let Failure::Usage(message) = &failure else {
                    panic!("{failure:?}")
                };
                assert!(message.starts_with(option), "{message}");
                for secret in secrets {
                    assert!(!message.contains(&secret[9..]), "{message}");
                }
            }
            assert!(check(option, secrets[0]).is_err(), "{option}");
        }
        assert!(positive("--rps", "0").is_err());
        assert!(grace("--grace", "2592001").is_err());
        assert!(window("--rps-window", WindowName::Rps, "2h").is_err());
        assert!(window("--rpm-window", WindowName::Rpm, "59s").is_err());
        assert!(thresholds("--alert-thresholds", "75,,100").is_err());
        assert!(id("--id", "").is_err());
    }
}
