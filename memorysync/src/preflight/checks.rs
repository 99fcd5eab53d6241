//! The checklist items that a config file shows by itself: pure functions over a loaded
//! [`Config`], its raw text, or an environment lookup, so each can be tested alone.

use std::env::VarError;
use std::fmt;

use memorysync_pipeline::Environment;
use memorysync_pipeline::config::{Config, StoreBackend};
use memorysync_pipeline::webhook::WebhookSecret;

/// The compliance minimum for audit retention and tombstones when `--min-retention-days` is
/// not given: the crate's own default period.
pub(crate) const MIN_RETENTION_DAYS: u64 = 90;

/// The usage alerts of the checklist (DESIGN section 11), in percent.
pub(crate) const ALERT_THRESHOLDS: [u8; 3] = [75, 90, 100];

/// What one item of the checklist found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pass,
    /// Not applicable to this deployment (memory backend, no `--url`): counts as a pass.
    Skipped(String),
    Fail(String),
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) name: &'static str,
    pub(crate) outcome: Outcome,
}

/// `pass <name>`, `pass <name> (skipped: <why>)` or `fail <name>: <why>`. Reasons are put on
/// one line and stripped of anything that looks like a secret: a loader or server message may
/// quote the value it could not read.
impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one_line = |why: &str| redact(&why.split_whitespace().collect::<Vec<_>>().join(" "));
        match &self.outcome {
            Outcome::Pass => write!(f, "pass {}", self.name),
            Outcome::Skipped(why) => write!(f, "pass {} (skipped: {})", self.name, one_line(why)),
            Outcome::Fail(why) => write!(f, "fail {}: {}", self.name, one_line(why)),
        }
    }
}

/// Fails with `what`, listing `names`, unless there are none.
fn fail_naming(what: &str, names: Vec<String>) -> Outcome {
    if names.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("{what}: {}", names.join(", ")))
    }
}

pub(crate) fn production_environment(config: &Config) -> Outcome {
    match config.environment {
        Environment::Production => Outcome::Pass,
        other => Outcome::Fail(format!(
            "environment = \"{other}\"; this checklist is for environment = \"production\""
        )),
    }
}

/// The loader already refuses a key without a 64-hex hash or naming an unknown project, and a
/// record holds exactly one project: a loaded config passes.
pub(crate) fn keys_hashed(_config: &Config) -> Outcome {
    Outcome::Pass
}

/// Any development key fails, whatever the deployment says: a production deployment refuses
/// them at runtime, so in a production config they are dead weight or a mistake.
pub(crate) fn no_development_keys(config: &Config) -> Outcome {
    let ids = config
        .keys
        .iter()
        .filter(|k| k.environment == Environment::Development);
    fail_naming("development keys", ids.map(|k| k.id.to_string()).collect())
}

pub(crate) fn key_rate_limits(config: &Config) -> Outcome {
    let missing = config.keys.iter().filter_map(|key| {
        let absent = [("rps", key.rps), ("rpm", key.rpm)]
            .into_iter()
            .filter(|(_, limit)| limit.is_none())
            .map(|(name, _)| name)
            .collect::<Vec<_>>();
        (!absent.is_empty()).then(|| format!("{} has no {}", key.id, absent.join(" or ")))
    });
    fail_naming("keys without both limits", missing.collect())
}

/// A kind of secret-looking token: its prefix, what to call it, and the bytes that continue it.
struct TokenRule {
    prefix: &'static str,
    what: &'static str,
    continues: fn(u8) -> bool,
}

/// `msk_` follows the loader's rule (tag, then a key character); `whsec_` needs a base64
/// character after it, so prose such as "the whsec_ secret" is not a finding.
const TOKEN_RULES: [TokenRule; 3] = [
    TokenRule {
        prefix: "msk_live_",
        what: "an msk_ API key",
        continues: |b| b.is_ascii_alphanumeric(),
    },
    TokenRule {
        prefix: "msk_test_",
        what: "an msk_ API key",
        continues: |b| b.is_ascii_alphanumeric(),
    },
    TokenRule {
        prefix: "whsec_",
        what: "a whsec_ webhook secret",
        continues: |b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='),
    },
];

/// Where secret-looking tokens sit in `line`: byte ranges, in order, and what each looks like.
fn secret_tokens(line: &str) -> Vec<(usize, usize, &'static str)> {
    let mut found = Vec::new();
    for rule in &TOKEN_RULES {
        for (at, _) in line.match_indices(rule.prefix) {
            let rest = line.as_bytes()[at + rule.prefix.len()..].iter();
            let len = rest.take_while(|b| (rule.continues)(**b)).count();
            if len > 0 {
                found.push((at, at + rule.prefix.len() + len, rule.what));
            }
        }
    }
    found.sort_unstable();
    found
}

/// `text` with every secret-looking token replaced by `<redacted>`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (start, end, _) in secret_tokens(text) {
        // Overlapping tokens ("whsec_msk_live_...") are cut as one.
        if start >= from {
            out.push_str(&text[from..start]);
            out.push_str("<redacted>");
        }
        from = from.max(end);
    }
    out.push_str(&text[from..]);
    out
}

/// Scans the raw file, comments included; names the line and the kind, never the token.
pub(crate) fn no_plaintext_secrets(text: &str) -> Outcome {
    let findings = text.lines().enumerate().flat_map(|(index, line)| {
        let mut kinds: Vec<_> = secret_tokens(line).into_iter().map(|t| t.2).collect();
        kinds.dedup();
        kinds
            .into_iter()
            .map(move |what| format!("line {}: {what}", index + 1))
    });
    fail_naming("plaintext secrets in the file", findings.collect())
}

/// Webhooks are named by position and host only: a URL may carry credentials or tokens.
fn webhook_name(index: usize, url: &http::Uri) -> String {
    format!(
        "webhook {} ({})",
        index + 1,
        url.host().unwrap_or("no host")
    )
}

pub(crate) fn webhooks_https(config: &Config) -> Outcome {
    let plain = config
        .webhooks
        .iter()
        .enumerate()
        .filter(|(_, hook)| hook.url.scheme_str() != Some("https"))
        .map(|(index, hook)| webhook_name(index, &hook.url));
    fail_naming("webhook URLs not https://", plain.collect())
}

/// `lookup` is `std::env::var` in the program and a map in the tests. The secret is parsed and
/// dropped; only the variable's name and the parse error (which never quotes it) are reported.
pub(crate) fn webhook_secrets(
    config: &Config,
    lookup: &dyn Fn(&str) -> Result<String, VarError>,
) -> Outcome {
    let problems = config
        .webhooks
        .iter()
        .enumerate()
        .flat_map(|(index, hook)| {
            hook.secret_env.iter().filter_map(move |name| {
                let problem = match lookup(name) {
                    Err(VarError::NotPresent) => format!("{name} is not set"),
                    Err(VarError::NotUnicode(_)) => format!("{name} is not UTF-8"),
                    Ok(value) => match WebhookSecret::parse(&value) {
                        Ok(_) => return None,
                        Err(error) => format!("{name}: {error}"),
                    },
                };
                Some(format!("{}: {problem}", webhook_name(index, &hook.url)))
            })
        });
    fail_naming("missing or invalid secrets", problems.collect())
}

pub(crate) fn usage_alerts(config: &Config) -> Outcome {
    let missing = config.projects.iter().filter_map(|project| {
        let absent: Vec<String> = ALERT_THRESHOLDS
            .iter()
            .filter(|t| !project.alert_thresholds.contains(t))
            .map(|t| format!("{t}%"))
            .collect();
        (!absent.is_empty()).then(|| format!("{} lacks {}", project.id, absent.join(", ")))
    });
    fail_naming(
        "projects without alerts at 75, 90 and 100%",
        missing.collect(),
    )
}

pub(crate) fn audit_retention(config: &Config, min_days: u64) -> Outcome {
    let periods = [
        ("retention_days", config.audit.retention),
        ("tombstone_days", config.audit.tombstone_period),
    ];
    let short = periods.iter().filter_map(|(name, period)| {
        let days = period.as_secs() / 86_400;
        (days < min_days).then(|| format!("{name} = {days}"))
    });
    fail_naming(
        &format!("under the minimum of {min_days} days"),
        short.collect(),
    )
}

/// The server keeps its audit log in memory unless it has `audit.dir` or a Redis store: a
/// bounded log that evicts its oldest events, for tests and development only.
pub(crate) fn audit_not_in_memory(config: &Config) -> Outcome {
    if config.audit.dir.is_some() || config.store.backend == StoreBackend::Redis {
        Outcome::Pass
    } else {
        Outcome::Fail(
            "the audit log would be kept in memory: set audit.dir (JSON Lines files) or store.backend = \"redis\"".to_owned(),
        )
    }
}

/// A production deployment on the memory backend loses, at every restart, what operators
/// changed and customers spent: keys revoked at run time, tombstones, quota counters and
/// alert marks, usage and the webhook queue.
pub(crate) fn durable_state(config: &Config) -> Outcome {
    match (config.environment, config.store.backend) {
        (Environment::Production, StoreBackend::Memory) => {
            Outcome::Fail(crate::serve::VOLATILE_STATE_REFUSAL.to_owned())
        }
        (_, StoreBackend::Memory) => {
            Outcome::Skipped("development on the memory backend".to_owned())
        }
        _ => Outcome::Pass,
    }
}
