//! The TOML configuration of a whole pipeline (section 10).
//!
//! [`Config::from_toml`] reads the file, checks it, and names the line of the first problem:
//! an unknown field, a malformed value, a duplicate key id or hash, a key naming an unknown
//! project, or a plaintext `msk_` key anywhere in the file (comments included). Secrets never
//! come from the file: keys are stored as their SHA-256, webhook secrets come from the
//! environment variable the file names.
//!
//! Decisions the design left open: `environment` is required; the `[store]`, `[health]` and
//! `[audit]` tables are optional; a limit, a period or a per-IP rate of 0 is an error (a limit
//! that refuses everything is better written as a revoked key); `trusted_proxies` accepts
//! CIDRs or single addresses. `[[quota.routes]]` (method, exact or `/*` prefix path, `add` or
//! `query`) replaces the memory API's metered routes; the same method and path twice, or an
//! empty list, is an error. `[upstream]` (the reverse proxy's `connect_timeout_ms`,
//! `request_timeout_ms` and `pool_max_idle`) is optional, each field with its default.
//! `[[admin_tokens]]` (`id`, `sha256`, `role` = `admin` | `read`) follows the id rule of
//! [`is_record_id`]; a repeated id or hash, or a plaintext `msa_` token anywhere in the file, is
//! an error. `[server.tls]` needs both `cert` and `key`, and reading the config checks that each
//! names a readable, non-empty file (relative paths from the working directory), so a wrong path
//! is reported with its line before anything listens. `config_version` (top-level, before any
//! table) is a whole number from 0 to [`MAX_CONFIG_VERSION`], 0 when absent. Window lengths
//! (`rps_window`, `rpm_window`, in `[limits]` as defaults and in `[[keys]]` per key) are durations
//! written as strings (`"4s"`, `"10m"`), whole seconds, 1 s to 1 h and 1 min to 24 h; a number
//! is refused, not read as seconds. `[limits]` is read when the deployment starts: a reload
//! reconciles the keys' own windows but keeps the defaults it started with.
//!
//! # Example
//! ```
//! use memorysync_pipeline::config::Config;
//!
//! let config = Config::from_toml(r#"
//! environment = "development"
//!
//! [[projects]]
//! id = "proj_demo"
//! adds_per_month = 1000
//! queries_per_month = 10000
//! "#).unwrap();
//! assert_eq!(config.projects[0].id, "proj_demo");
//!
//! let error = Config::from_toml("environment = \"development\"\ncolour = \"blue\"\n").unwrap_err();
//! assert_eq!(error.line(), Some(2));
//! ```

mod admin;
mod admin_tokens;
mod error;
mod limits;
mod quota_routes;
mod raw;
mod redis_target;
mod secrets;
mod server;
mod upstream;
mod validate;
mod webhooks;

pub use crate::key::{AdminRole, AdminTokenRecord};
pub use crate::quota::{QuotaRoute, RoutePath};
/// Where `[store] on_store_error` lands; the store layer owns it.
pub use crate::store::StoreErrorPolicy;
pub use admin::{AdminConfig, SecretKeyError, SecretKeySource};
pub use admin_tokens::{MAX_RECORD_ID, RECORD_ID_RULE, is_record_id};
pub use error::ConfigError;
pub use limits::LimitsConfig;
pub use quota_routes::QuotaConfig;
pub use redis_target::RedisTarget;
/// Redacts `whsec_`, `msk_` and `msa_` material from a text that may be logged or stored.
pub(crate) use secrets::redact;
pub use server::{ServerConfig, TlsConfig};
pub use upstream::UpstreamConfig;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use crate::environment::Environment;
use crate::key::KeyRecord;

/// A checked pipeline configuration.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// This deployment's environment.
    pub environment: Environment,
    /// `config_version` (absent: 0): reconciling the file with the stores refuses a file older
    /// than the last one applied ([`Deployment::reconcile`](crate::deployment::Deployment::reconcile)).
    pub config_version: u64,
    /// Where shared state lives.
    pub store: StoreConfig,
    /// The projects and their plans.
    pub projects: Vec<ProjectConfig>,
    /// The key records (hashes only).
    pub keys: Vec<KeyRecord>,
    /// `[limits]`: the window lengths of keys that set none of their own.
    pub limits: LimitsConfig,
    /// The health route.
    pub health: HealthConfig,
    /// The audit log.
    pub audit: AuditConfig,
    /// Webhook endpoints.
    pub webhooks: Vec<WebhookConfig>,
    /// The HTTP server's connection limits and shutdown.
    pub server: ServerConfig,
    /// When failed webhook deliveries are tried again.
    pub webhooks_retry: WebhookRetryConfig,
    /// `[quota]`: the metered routes.
    pub quota: QuotaConfig,
    /// `[upstream]`: the reverse proxy's timeouts and connection pool.
    pub upstream: UpstreamConfig,
    /// `[[admin_tokens]]`: the admin API's tokens (hashes only) and their roles.
    pub admin_tokens: Vec<AdminTokenRecord>,
    /// `[admin]`: where the key sealing webhook endpoint secrets comes from.
    pub admin: AdminConfig,
}

/// `[store]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `memory` (default), `embedded` or `redis`.
    pub backend: StoreBackend,
    /// The Redis URL, or a cluster's seed node URLs; required with `backend = "redis"`.
    pub redis_url: Option<RedisTarget>,
    /// `quota_replica_wait_ms` (1 to 250): after each quota reservation, wait up to this long
    /// for a replica to acknowledge it (`WAIT 1`), so that a failover cannot lose it; absent:
    /// off.
    /// A reservation not acknowledged in time is a store error (`on_store_error` applies).
    pub quota_replica_wait: Option<Duration>,
    /// The embedded database's directory, required with `backend = "embedded"` and refused
    /// with any other backend.
    pub path: Option<PathBuf>,
    /// What to do when the store does not answer.
    pub on_store_error: StoreErrorPolicy,
}

/// Where shared state lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// In process memory: one instance, for development and tests; lost on restart.
    #[default]
    Memory,
    /// A durable embedded database under `store.path`: one production instance.
    Embedded,
    /// Redis: state shared by every instance.
    Redis,
}

/// `[[projects]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectConfig {
    /// The project id.
    pub id: String,
    /// Adds per calendar month (UTC); 0 is a plan that allows none.
    pub adds_per_month: u64,
    /// Queries per calendar month (UTC); 0 is a plan that allows none.
    pub queries_per_month: u64,
    /// Usage alert thresholds in percent, ascending.
    pub alert_thresholds: Vec<u8>,
}

/// `[health]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthConfig {
    /// Probes per second per client address.
    pub per_ip_rps: u32,
    /// Networks whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Networks whose probes are never limited (the operator's load balancers).
    pub exempt: Vec<IpNet>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            per_ip_rps: 5,
            trusted_proxies: Vec::new(),
            exempt: Vec::new(),
        }
    }
}

/// `[audit]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditConfig {
    /// How long events are kept.
    pub retention: Duration,
    /// How long tombstones are kept.
    pub tombstone_period: Duration,
    /// The directory of the JSON Lines segments; `None` keeps events in memory.
    pub dir: Option<PathBuf>,
    /// When the JSON Lines segments are synced to disk (`fsync = "batch"`, the default, or
    /// `"off"`).
    pub fsync: crate::audit::Fsync,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention: days(90),
            tombstone_period: days(90),
            dir: None,
            fsync: crate::audit::Fsync::Batch,
        }
    }
}

/// `[[webhooks]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The endpoint.
    pub url: http::Uri,
    /// The environment variables holding the endpoint's `whsec_` secrets: one, or several while
    /// a secret is rotated (`secret_env = ["NEW", "OLD"]`). Every delivery is signed with each.
    pub secret_env: Vec<String>,
    /// The event types delivered to it.
    pub events: Vec<String>,
    /// The projects whose events it receives; empty (`projects` absent) for every project's: an
    /// operator-wide endpoint.
    pub projects: Vec<String>,
}

/// `[webhooks_retry]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookRetryConfig {
    /// The wait before each attempt of a delivery, the first included; after the last, the
    /// delivery is a dead letter.
    pub schedule: Vec<Duration>,
}

impl Default for WebhookRetryConfig {
    /// The Standard Webhooks schedule: 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    fn default() -> Self {
        WebhookRetryConfig {
            schedule: crate::webhook::RetryPolicy::default().delays,
        }
    }
}

/// The highest `config_version`: 2^53 - 1, the largest integer every store compares exactly.
pub const MAX_CONFIG_VERSION: u64 = (1 << 53) - 1;

/// The event types a webhook can subscribe to.
pub const WEBHOOK_EVENTS: [&str; 3] = ["quota.threshold", "quota.exhausted", "webhook.test"];

pub(crate) fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

impl Config {
    /// Reads and checks a configuration from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        validate::parse(text)
    }

    /// Reads and checks the configuration file at `path`; errors name the file and line.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unreadable(path, &e))?;
        Self::from_toml(&text).map_err(|e| e.in_file(path))
    }

    /// The project with this id.
    pub fn project(&self, id: &str) -> Option<&ProjectConfig> {
        self.projects.iter().find(|p| p.id == id)
    }
}
