//! `[[webhooks]]` and `[webhooks_retry]`: endpoints, the projects they serve, their secrets'
//! variables, and the retry schedule.

use std::time::Duration;

use toml::Spanned;

use super::raw::{RawSecretEnv, RawWebhook, RawWebhooksRetry};
use super::validate::Lines;
use super::{ConfigError, ProjectConfig, WEBHOOK_EVENTS, WebhookConfig, WebhookRetryConfig};

/// The most attempts a schedule may hold.
const MAX_ATTEMPTS: usize = 32;
/// The longest wait between two attempts: a week.
const MAX_DELAY: Duration = Duration::from_secs(7 * 86_400);

pub(super) fn endpoints(
    lines: &Lines<'_>,
    raw: Vec<RawWebhook>,
    projects: &[ProjectConfig],
) -> Result<Vec<WebhookConfig>, ConfigError> {
    raw.into_iter()
        .map(|hook| {
            let url: http::Uri = hook
                .url
                .get_ref()
                .parse()
                .map_err(|_| lines.error(&hook.url, "not a URL"))?;
            if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
                return Err(lines.error(
                    &hook.url,
                    "a webhook URL is http:// or https:// with a host",
                ));
            }
            Ok(WebhookConfig {
                url,
                secret_env: secret_env(lines, &hook.secret_env)?,
                events: events(lines, &hook.events)?,
                projects: scoped_to(lines, hook.projects.as_ref(), projects)?,
            })
        })
        .collect()
}

fn secret_env(lines: &Lines<'_>, raw: &Spanned<RawSecretEnv>) -> Result<Vec<String>, ConfigError> {
    let names: Vec<&str> = match raw.get_ref() {
        RawSecretEnv::One(name) => vec![name.as_str()],
        RawSecretEnv::Several(names) => names.iter().map(String::as_str).collect(),
    };
    if names.is_empty() {
        return Err(lines.error(raw, "secret_env names at least one environment variable"));
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim();
        if super::secrets::holds_secret(name) {
            return Err(lines.error(
                raw,
                "secret_env holds a secret, not the name of the environment variable \
                 that holds it; rotate the secret, it may have leaked",
            ));
        }
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(lines.error(raw, "secret_env names an environment variable"));
        }
        if out.iter().any(|seen| seen == name) {
            return Err(lines.error(raw, "secret_env names the same variable twice"));
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

fn events(
    lines: &Lines<'_>,
    raw: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<String>, ConfigError> {
    if raw.get_ref().is_empty() {
        return Err(lines.error(raw, "a webhook needs at least one event"));
    }
    raw.get_ref()
        .iter()
        .map(|event| {
            if WEBHOOK_EVENTS.contains(&event.get_ref().as_str()) {
                Ok(event.get_ref().clone())
            } else {
                Err(lines.error(
                    event,
                    format!("unknown event; known: {}", WEBHOOK_EVENTS.join(", ")),
                ))
            }
        })
        .collect()
}

/// The projects an endpoint is scoped to; each must be defined, and an empty list is refused
/// (it would read as "no project" but deliver every project's events).
fn scoped_to(
    lines: &Lines<'_>,
    raw: Option<&Spanned<Vec<Spanned<String>>>>,
    projects: &[ProjectConfig],
) -> Result<Vec<String>, ConfigError> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    if list.get_ref().is_empty() {
        return Err(lines.error(
            list,
            "projects must not be empty; leave it out for an operator-wide endpoint",
        ));
    }
    list.get_ref()
        .iter()
        .map(|id| {
            let text = id.get_ref().trim();
            if projects.iter().any(|p| p.id == text) {
                Ok(text.to_owned())
            } else {
                Err(lines.error(
                    id,
                    format!(
                        "the webhook names project `{text}`, which no [[projects]] entry defines"
                    ),
                ))
            }
        })
        .collect()
}

pub(super) fn retry(
    lines: &Lines<'_>,
    raw: RawWebhooksRetry,
) -> Result<WebhookRetryConfig, ConfigError> {
    let Some(list) = raw.schedule else {
        return Ok(WebhookRetryConfig::default());
    };
    if list.get_ref().is_empty() || list.get_ref().len() > MAX_ATTEMPTS {
        return Err(lines.error(
            &list,
            format!("a retry schedule holds 1 to {MAX_ATTEMPTS} attempts"),
        ));
    }
    let schedule = list
        .get_ref()
        .iter()
        .map(|delay| {
            parse_delay(delay.get_ref()).ok_or_else(|| {
                lines.error(
                    delay,
                    "a delay is a whole number with a unit (ms, s, m, h, d), at most 7d: \"0s\", \"5m\"",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(WebhookRetryConfig { schedule })
}

/// `"250ms"`, `"5s"`, `"5m"`, `"2h"`, `"1d"`: digits, then one unit.
fn parse_delay(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let delay = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3_600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    (delay <= MAX_DELAY).then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_digits_and_a_unit_up_to_a_week() {
        let secs = Duration::from_secs;
        for (text, expected) in [
            ("0s", Some(secs(0))),
            ("250ms", Some(Duration::from_millis(250))),
            ("5m", Some(secs(300))),
            ("10h", Some(secs(36_000))),
            ("7d", Some(secs(604_800))),
            ("8d", None),
            ("5", None),
            ("s", None),
            ("-5s", None),
            ("5 s", None),
            ("1.5h", None),
            ("5sec", None),
            ("99999999999999999999h", None),
            ("", None),
        ] {
            assert_eq!(parse_delay(text), expected, "{text:?}");
        }
    }
}
