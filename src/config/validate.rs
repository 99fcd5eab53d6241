//! From the raw file to a checked [`Config`], with the line of every problem.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use toml::Spanned;

use super::limits::window;
use super::raw::{RawAudit, RawConfig, RawHealth, RawKey, RawProject, RawRedisUrl, RawStore};
use super::{
    AuditConfig, Config, ConfigError, HealthConfig, ProjectConfig, RedisTarget, StoreBackend,
    StoreConfig, days,
};
use crate::clock::Timestamp;
use crate::key::{KeyHash, KeyRecord};
use crate::limit::WindowName;
use crate::store::RecordOwner;

/// The longest retention or tombstone period accepted: 100 years.
const MAX_DAYS: u64 = 36_500;

/// Byte offsets to 1-based line numbers.
pub(super) struct Lines<'t> {
    text: &'t str,
}

impl Lines<'_> {
    pub(super) fn of(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub(super) fn error<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        ConfigError::at_line(self.of(at.span()), message)
    }
}

pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    // Before parsing: a parse error could quote the line that holds the key.
    refuse_plaintext_keys(text)?;
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |span| Lines { text }.of(span));
        ConfigError::at_line(line, e.message().trim_end().to_owned())
    })?;
    let lines = Lines { text };
    let projects = projects(&lines, raw.projects)?;
    Ok(Config {
        environment: raw.environment,
        config_version: config_version(&lines, raw.config_version)?,
        store: store(&lines, raw.store)?,
        keys: keys(&lines, raw.keys, &projects)?,
        limits: super::limits::validate(&lines, raw.limits)?,
        webhooks: super::webhooks::endpoints(&lines, raw.webhooks, &projects)?,
        webhooks_retry: super::webhooks::retry(&lines, raw.webhooks_retry)?,
        projects,
        health: health(&lines, raw.health)?,
        audit: audit(&lines, raw.audit)?,
        server: super::server::validate(raw.server, |span| lines.of(span))?,
        quota: super::quota_routes::validate(&lines, raw.quota)?,
        upstream: super::upstream::validate(&lines, raw.upstream)?,
        admin_tokens: super::admin_tokens::validate(&lines, raw.admin_tokens)?,
        admin: super::admin::validate(&lines, raw.admin)?,
    })
}

/// A key or an admin token in the file has leaked: refuse the file and name the line, never
/// the secret. The raw text is read for secrets in comments, the parsed strings for secrets
/// behind escapes.
fn refuse_plaintext_keys(text: &str) -> Result<(), ConfigError> {
    let raw_line = text
        .lines()
        .position(super::secrets::holds_credential)
        .map(|index| index + 1);
    let line = raw_line
        .or_else(|| super::secrets::parsed_credential(text).map(|at| Lines { text }.of(at)));
    if let Some(line) = line {
        return Err(ConfigError::at_line(
            line,
            "a plaintext API key or admin token: the file holds only its sha256; revoke it, \
             it may have leaked",
        ));
    }
    Ok(())
}

/// `config_version`: absent is 0. At most 2^53 - 1, so that every store compares it exactly
/// (Redis scripts count in doubles).
fn config_version(lines: &Lines<'_>, raw: Option<Spanned<i64>>) -> Result<u64, ConfigError> {
    let Some(version) = raw else {
        return Ok(0);
    };
    u64::try_from(*version.get_ref())
        .ok()
        .filter(|v| *v <= super::MAX_CONFIG_VERSION)
        .ok_or_else(|| {
            lines.error(
                &version,
                format!(
                    "config_version must be a whole number from 0 to {}",
                    super::MAX_CONFIG_VERSION
                ),
            )
        })
}

/// The longest `quota_replica_wait_ms`: half the Redis call timeout (500 ms), since the
/// connection gives up on any answer after that timeout and `WAIT` answers only when its time
/// is up or a replica acknowledged.
const MAX_REPLICA_WAIT_MS: u64 = 250;

/// The most seed nodes `redis_url` may list.
const MAX_SEEDS: usize = 64;

/// `redis_url`: a string is one Redis, a list the seed nodes of a cluster. Every URL must be
/// `redis://` or `rediss://`, a list may not be empty or too long, and it may not mix the two.
fn redis_target(lines: &Lines<'_>, raw: Spanned<RawRedisUrl>) -> Result<RedisTarget, ConfigError> {
    let scheme_error = "redis_url must start with redis:// or rediss://";
    let valid = |url: &str| url.starts_with("redis://") || url.starts_with("rediss://");
    match raw.get_ref() {
        RawRedisUrl::One(url) if !valid(url) => Err(lines.error(&raw, scheme_error)),
        RawRedisUrl::One(url) => Ok(RedisTarget::Single(url.clone())),
        RawRedisUrl::Seeds(seeds) if seeds.is_empty() || seeds.len() > MAX_SEEDS => Err(lines
            .error(
                &raw,
                format!("redis_url lists 1 to {MAX_SEEDS} seed nodes of a cluster"),
            )),
        RawRedisUrl::Seeds(seeds) if !seeds.iter().all(|url| valid(url)) => {
            Err(lines.error(&raw, scheme_error))
        }
        RawRedisUrl::Seeds(seeds)
            if !(seeds.iter().all(|url| url.starts_with("redis://"))
                || seeds.iter().all(|url| url.starts_with("rediss://"))) =>
        {
            Err(lines.error(&raw, "redis_url mixes redis:// and rediss:// seeds"))
        }
        RawRedisUrl::Seeds(seeds) => Ok(RedisTarget::Cluster(seeds.clone())),
    }
}

fn store(lines: &Lines<'_>, raw: RawStore) -> Result<StoreConfig, ConfigError> {
    let backend = raw
        .backend
        .as_ref()
        .map_or(StoreBackend::Memory, |b| *b.get_ref());
    if let (StoreBackend::Redis, None) = (backend, &raw.redis_url)
        && let Some(at) = &raw.backend
    {
        return Err(lines.error(at, "backend = \"redis\" needs redis_url"));
    }
    match (backend, &raw.path) {
        (StoreBackend::Embedded, None) => {
            if let Some(at) = &raw.backend {
                return Err(lines.error(at, "backend = \"embedded\" needs path (a directory)"));
            }
        }
        (StoreBackend::Embedded, Some(path)) if path.get_ref().trim().is_empty() => {
            return Err(lines.error(path, "path must name a directory"));
        }
        (StoreBackend::Memory | StoreBackend::Redis, Some(path)) => {
            return Err(lines.error(
                path,
                "path is the embedded database's directory: only with backend = \"embedded\"",
            ));
        }
        _ => {}
    }
    let redis_url = raw
        .redis_url
        .map(|url| redis_target(lines, url))
        .transpose()?;
    let quota_replica_wait = match raw.quota_replica_wait_ms {
        Some(ms) if !(1..=MAX_REPLICA_WAIT_MS).contains(ms.get_ref()) => {
            return Err(lines.error(
                &ms,
                format!("quota_replica_wait_ms must be 1 to {MAX_REPLICA_WAIT_MS}"),
            ));
        }
        Some(ms) if backend != StoreBackend::Redis => {
            return Err(lines.error(
                &ms,
                "quota_replica_wait_ms waits for a Redis replica: only with backend = \"redis\"",
            ));
        }
        ms => ms.map(|ms| Duration::from_millis(ms.into_inner())),
    };
    Ok(StoreConfig {
        backend,
        redis_url,
        quota_replica_wait,
        path: raw.path.map(|path| PathBuf::from(path.into_inner())),
        on_store_error: raw.on_store_error,
    })
}

/// A non-empty id not seen before; `seen` maps ids to the line they were first given on.
fn unique_id<'r>(
    lines: &Lines<'_>,
    seen: &mut HashMap<String, usize>,
    id: &'r Spanned<String>,
    what: &str,
) -> Result<&'r str, ConfigError> {
    let text = id.get_ref().trim();
    if text.is_empty() {
        return Err(lines.error(id, format!("a {what} id must not be empty")));
    }
    if let Some(first) = seen.insert(text.to_owned(), lines.of(id.span())) {
        return Err(lines.error(
            id,
            format!("duplicate {what} id `{text}` (first on line {first})"),
        ));
    }
    Ok(text)
}

fn projects(lines: &Lines<'_>, raw: Vec<RawProject>) -> Result<Vec<ProjectConfig>, ConfigError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut projects = Vec::with_capacity(raw.len());
    for project in raw {
        let id = unique_id(lines, &mut seen, &project.id, "project")?;
        let alert_thresholds = match project.alert_thresholds {
            None => vec![75, 90, 100],
            Some(list) => thresholds(lines, list)?,
        };
        // A monthly quota of 0 is a plan (nothing of that operation allowed), not an error.
        projects.push(ProjectConfig {
            id: id.to_owned(),
            adds_per_month: project.adds_per_month,
            queries_per_month: project.queries_per_month,
            alert_thresholds,
        });
    }
    Ok(projects)
}

fn thresholds(lines: &Lines<'_>, list: Spanned<Vec<Spanned<i64>>>) -> Result<Vec<u8>, ConfigError> {
    let mut out: Vec<u8> = Vec::new();
    for value in list.get_ref() {
        let percent = match u8::try_from(*value.get_ref()) {
            Ok(p @ 1..=100) => p,
            _ => return Err(lines.error(value, "an alert threshold is a percentage from 1 to 100")),
        };
        if out.last().is_some_and(|last| *last >= percent) {
            return Err(lines.error(value, "alert thresholds must be ascending, without repeats"));
        }
        out.push(percent);
    }
    if out.is_empty() {
        return Err(lines.error(
            &list,
            "alert_thresholds must not be empty; leave it out for the default",
        ));
    }
    Ok(out)
}

fn keys(
    lines: &Lines<'_>,
    raw: Vec<RawKey>,
    projects: &[ProjectConfig],
) -> Result<Vec<KeyRecord>, ConfigError> {
    let mut line_by_id: HashMap<String, usize> = HashMap::new();
    let mut line_by_hash: HashMap<String, usize> = HashMap::new();
    let mut records = Vec::with_capacity(raw.len());
    for key in raw {
        let id = unique_id(lines, &mut line_by_id, &key.id, "key")?;
        let sha256 = KeyHash::from_hex(key.sha256.get_ref())
            .map_err(|e| lines.error(&key.sha256, e.to_string()))?;
        if let Some(first) = line_by_hash.insert(sha256.to_hex(), lines.of(key.sha256.span())) {
            return Err(lines.error(
                &key.sha256,
                format!("key `{id}` repeats the sha256 of the key on line {first}"),
            ));
        }
        let project = key.project.get_ref();
        if !projects.iter().any(|p| p.id == *project) {
            return Err(lines.error(
                &key.project,
                format!(
                    "key `{id}` names project `{project}`, which no [[projects]] entry defines"
                ),
            ));
        }
        let mut record = KeyRecord::new(id, sha256, project.as_str(), key.environment)
            .with_limits(limit(lines, key.rps)?, limit(lines, key.rpm)?)
            .with_windows(
                window(lines, WindowName::Rps, key.rps_window)?,
                window(lines, WindowName::Rpm, key.rpm_window)?,
            )
            .with_owner(RecordOwner::Config);
        record.expires_at = instant(lines, key.expires_at)?;
        record.revoked_at = instant(lines, key.revoked_at)?;
        records.push(record);
    }
    Ok(records)
}

fn limit(lines: &Lines<'_>, value: Option<Spanned<u32>>) -> Result<Option<u32>, ConfigError> {
    match value {
        Some(v) if *v.get_ref() == 0 => Err(lines.error(
            &v,
            "a limit of 0 would refuse every request; revoke the key instead, or leave the limit out",
        )),
        other => Ok(other.map(Spanned::into_inner)),
    }
}

fn instant(
    lines: &Lines<'_>,
    value: Option<Spanned<String>>,
) -> Result<Option<Timestamp>, ConfigError> {
    value
        .map(|v| {
            Timestamp::parse_rfc3339(v.get_ref()).map_err(|_| {
                lines.error(&v, "expected an RFC 3339 time such as 2027-01-01T00:00:00Z")
            })
        })
        .transpose()
}

fn health(lines: &Lines<'_>, raw: RawHealth) -> Result<HealthConfig, ConfigError> {
    let per_ip_rps = match raw.per_ip_rps {
        None => HealthConfig::default().per_ip_rps,
        Some(v) if *v.get_ref() == 0 => {
            return Err(lines.error(&v, "per_ip_rps must be at least 1"));
        }
        Some(v) => v.into_inner(),
    };
    let networks = |list: &[Spanned<String>]| {
        list.iter()
            .map(|cidr| {
                let text = cidr.get_ref().trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        lines.error(cidr, "expected a CIDR such as 10.0.0.0/8, or an address")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(HealthConfig {
        per_ip_rps,
        trusted_proxies: networks(&raw.trusted_proxies)?,
        exempt: networks(&raw.exempt)?,
    })
}

fn audit(lines: &Lines<'_>, raw: RawAudit) -> Result<AuditConfig, ConfigError> {
    let period = |value: Option<Spanned<u64>>, name: &str| match value {
        None => Ok(days(90)),
        Some(v) if (1..=MAX_DAYS).contains(v.get_ref()) => Ok(days(*v.get_ref())),
        Some(v) => Err(lines.error(&v, format!("{name} must be from 1 to {MAX_DAYS}"))),
    };
    Ok(AuditConfig {
        retention: period(raw.retention_days, "retention_days")?,
        tombstone_period: period(raw.tombstone_days, "tombstone_days")?,
        dir: raw.dir.map(PathBuf::from),
        fsync: raw.fsync,
    })
}
