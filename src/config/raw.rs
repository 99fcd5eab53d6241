//! The file's shape, as serde reads it. Values that need a check with a line number stay
//! `Spanned` here and are checked in `validate`.

use serde::Deserialize;
use toml::Spanned;

use super::{StoreBackend, StoreErrorPolicy};
use crate::environment::Environment;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) environment: Environment,
    #[serde(default)]
    pub(super) config_version: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) store: RawStore,
    #[serde(default)]
    pub(super) projects: Vec<RawProject>,
    #[serde(default)]
    pub(super) keys: Vec<RawKey>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) health: RawHealth,
    #[serde(default)]
    pub(super) audit: RawAudit,
    #[serde(default)]
    pub(super) webhooks: Vec<RawWebhook>,
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) webhooks_retry: RawWebhooksRetry,
    #[serde(default)]
    pub(super) quota: RawQuota,
    #[serde(default)]
    pub(super) upstream: RawUpstream,
    #[serde(default)]
    pub(super) admin_tokens: Vec<RawAdminToken>,
    #[serde(default)]
    pub(super) admin: Option<Spanned<super::admin::RawAdmin>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    #[serde(default)]
    pub(super) backend: Option<Spanned<StoreBackend>>,
    pub(super) redis_url: Option<Spanned<RawRedisUrl>>,
    #[serde(default)]
    pub(super) quota_replica_wait_ms: Option<Spanned<u64>>,
    pub(super) path: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) on_store_error: StoreErrorPolicy,
}

/// `redis_url`: one URL, or a list of a cluster's seed nodes.
pub(super) enum RawRedisUrl {
    One(String),
    Seeds(Vec<String>),
}

impl<'de> Deserialize<'de> for RawRedisUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = RawRedisUrl;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Redis URL, or a list of a cluster's seed node URLs")
            }
            fn visit_str<E: serde::de::Error>(self, url: &str) -> Result<RawRedisUrl, E> {
                Ok(RawRedisUrl::One(url.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawRedisUrl, A::Error> {
                let mut seeds = Vec::new();
                while let Some(url) = seq.next_element::<String>()? {
                    seeds.push(url);
                }
                Ok(RawRedisUrl::Seeds(seeds))
            }
        }
        deserializer.deserialize_any(Either)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) id: Spanned<String>,
    pub(super) adds_per_month: u64,
    pub(super) queries_per_month: u64,
    pub(super) alert_thresholds: Option<Spanned<Vec<Spanned<i64>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKey {
    pub(super) id: Spanned<String>,
    pub(super) sha256: Spanned<String>,
    pub(super) project: Spanned<String>,
    pub(super) environment: Environment,
    pub(super) rps: Option<Spanned<u32>>,
    pub(super) rpm: Option<Spanned<u32>>,
    pub(super) rps_window: Option<Spanned<String>>,
    pub(super) rpm_window: Option<Spanned<String>>,
    pub(super) expires_at: Option<Spanned<String>>,
    pub(super) revoked_at: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) rps_window: Option<Spanned<String>>,
    pub(super) rpm_window: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub(super) per_ip_rps: Option<Spanned<u32>>,
    #[serde(default)]
    pub(super) trusted_proxies: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) exempt: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    pub(super) retention_days: Option<Spanned<u64>>,
    pub(super) tombstone_days: Option<Spanned<u64>>,
    pub(super) dir: Option<String>,
    #[serde(default)]
    pub(super) fsync: crate::audit::Fsync,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub(super) url: Spanned<String>,
    pub(super) secret_env: Spanned<RawSecretEnv>,
    pub(super) events: Spanned<Vec<Spanned<String>>>,
    pub(super) projects: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One variable, or several while a secret is rotated (newest first). Untagged, so the names
/// carry no spans of their own (serde buffers them): errors name the field's line.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawSecretEnv {
    One(String),
    Several(Vec<String>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhooksRetry {
    pub(super) schedule: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) header_read_timeout_ms: Option<Spanned<u64>>,
    pub(super) idle_timeout_ms: Option<Spanned<u64>>,
    pub(super) max_connections: Option<Spanned<u64>>,
    pub(super) max_body_bytes: Option<Spanned<u64>>,
    pub(super) shutdown_grace_ms: Option<Spanned<u64>>,
    pub(super) instance: Option<Spanned<String>>,
    pub(super) tls: Option<Spanned<RawTls>>,
    pub(super) allow_plaintext_admin: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: Option<Spanned<String>>,
    pub(super) key: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuota {
    pub(super) routes: Option<Spanned<Vec<RawQuotaRoute>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuotaRoute {
    pub(super) method: Spanned<String>,
    pub(super) path: Spanned<String>,
    pub(super) operation: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    pub(super) connect_timeout_ms: Option<Spanned<u64>>,
    pub(super) request_timeout_ms: Option<Spanned<u64>>,
    pub(super) pool_max_idle: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdminToken {
    pub(super) id: Spanned<String>,
    pub(super) sha256: Spanned<String>,
    pub(super) role: Spanned<String>,
}
