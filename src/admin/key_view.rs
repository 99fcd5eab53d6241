//! How the admin API shows a key record: never its hash, never the key (except once, in the
//! answer that created it).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminApi;
use super::problem::AdminError;
use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::key::{KeyRecord, KeyStore, KeyUsage};
use crate::limit::format_window;

/// `development` or `production`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EnvironmentName {
    /// `msk_test_` keys.
    Development,
    /// `msk_live_` keys.
    Production,
}

impl From<EnvironmentName> for Environment {
    fn from(name: EnvironmentName) -> Self {
        match name {
            EnvironmentName::Development => Environment::Development,
            EnvironmentName::Production => Environment::Production,
        }
    }
}

impl From<Environment> for EnvironmentName {
    fn from(environment: Environment) -> Self {
        match environment {
            Environment::Development => EnvironmentName::Development,
            Environment::Production => EnvironmentName::Production,
        }
    }
}

/// A key's state now.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KeyStatus {
    /// Accepted.
    Active,
    /// Refused: past its `expires_at`.
    Expired,
    /// Refused for good.
    Revoked,
}

/// Who manages a record.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OwnerName {
    /// The config file: change it there.
    Config,
    /// The admin API.
    Api,
}

impl From<crate::store::RecordOwner> for OwnerName {
    fn from(owner: crate::store::RecordOwner) -> Self {
        match owner {
            crate::store::RecordOwner::Config => OwnerName::Config,
            crate::store::RecordOwner::Api => OwnerName::Api,
        }
    }
}

/// Requests a key authenticated.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageView {
    /// Requests counted.
    requests: u64,
    /// RFC 3339, the last one; `null` before the first.
    last_used: Option<String>,
}

/// A key record as the admin API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyView {
    /// The public id.
    id: String,
    /// The one project the key belongs to.
    project: String,
    /// The one environment the key belongs to.
    environment: EnvironmentName,
    /// Requests per second; `null`: no limit.
    rps: Option<u32>,
    /// Requests per minute; `null`: no limit.
    rpm: Option<u32>,
    /// The per-second rate's window, e.g. `4s`; `null`: the deployment's default.
    #[schema(example = "4s")]
    rps_window: Option<String>,
    /// The per-minute rate's window, e.g. `10m`; `null`: the deployment's default.
    #[schema(example = "10m")]
    rpm_window: Option<String>,
    /// RFC 3339; refused from then on.
    expires_at: Option<String>,
    /// RFC 3339; revoked then.
    revoked_at: Option<String>,
    /// Who manages the record.
    owner: OwnerName,
    /// Accepted, expired or revoked, now.
    status: KeyStatus,
    /// Requests counted, and the last one.
    usage: UsageView,
}

impl KeyView {
    pub(crate) fn new(record: &KeyRecord, usage: KeyUsage, now: Timestamp) -> Self {
        let status = if record.is_revoked(now) {
            KeyStatus::Revoked
        } else if record.is_expired(now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        };
        KeyView {
            id: record.id.to_string(),
            project: record.project.to_string(),
            environment: record.environment.into(),
            rps: record.rps,
            rpm: record.rpm,
            rps_window: record.rps_window.map(format_window),
            rpm_window: record.rpm_window.map(format_window),
            expires_at: record.expires_at.map(Timestamp::to_rfc3339),
            revoked_at: record.revoked_at.map(Timestamp::to_rfc3339),
            owner: record.owner.into(),
            status,
            usage: UsageView {
                requests: usage.request_count,
                last_used: usage.last_used.map(Timestamp::to_rfc3339),
            },
        }
    }
}

/// A key just created: the key itself, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewKeyView {
    /// The API key. Store it now: no answer shows it again.
    pub(crate) key: String,
    /// Its record.
    pub(crate) record: KeyView,
}

/// The key a rotation replaced.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PreviousKey {
    /// Its id.
    pub(crate) id: String,
    /// RFC 3339: it is refused as expired from then on.
    pub(crate) expires_at: String,
}

/// A rotation's new key, shown this once, and the end of the old one.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RotatedKeyView {
    /// The new API key. Store it now: no answer shows it again.
    pub(crate) key: String,
    /// Its record.
    pub(crate) record: KeyView,
    /// The key it replaces.
    pub(crate) previous: PreviousKey,
}

/// The record with this id, revoked ones included; 404 `unknown_key` when there is none.
pub(crate) async fn record_of(api: &AdminApi, id: &str) -> Result<KeyRecord, AdminError> {
    api.deployment()
        .keys()
        .record(id)
        .await?
        .ok_or_else(|| AdminError::not_found("unknown_key", format!("no key with id `{id}`")))
}
