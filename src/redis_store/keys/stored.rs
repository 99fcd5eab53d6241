//! A key record as Redis holds it, and back.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::key::{KeyHash, KeyRecord, KeyUsage};
use crate::store::{RecordOwner, StoreError};

/// A record as stored in the `record` field; the hash is the key, revocation its own field.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredRecord {
    pub(super) id: Arc<str>,
    project: Arc<str>,
    environment: Environment,
    #[serde(default)]
    rps: Option<u32>,
    #[serde(default)]
    rpm: Option<u32>,
    #[serde(default)]
    expires_at: Option<i64>,
    /// Records stored before owners existed were all loaded from the config file.
    #[serde(default = "config_owned")]
    owner: RecordOwner,
}

fn config_owned() -> RecordOwner {
    RecordOwner::Config
}

/// `record`, `revoked_at`, `count` and `last_used` of a record's hash.
pub(super) type StoredFields = (Option<String>, Option<i64>, Option<u64>, Option<i64>);

pub(super) fn encode(record: &KeyRecord) -> Result<String, StoreError> {
    serde_json::to_string(&StoredRecord {
        id: Arc::clone(&record.id),
        project: Arc::clone(&record.project),
        environment: record.environment,
        rps: record.rps,
        rpm: record.rpm,
        expires_at: record.expires_at.map(Timestamp::unix_millis),
        owner: record.owner,
    })
    .map_err(|_| StoreError::new("key record not encodable"))
}

pub(super) fn decode(
    hash: KeyHash,
    fields: StoredFields,
) -> Result<Option<(KeyRecord, KeyUsage)>, StoreError> {
    let (Some(json), revoked_at, count, last_used) = fields else {
        return Ok(None);
    };
    let stored: StoredRecord =
        serde_json::from_str(&json).map_err(|_| StoreError::new("redis: unreadable key record"))?;
    let record = KeyRecord {
        id: stored.id,
        sha256: hash,
        project: stored.project,
        environment: stored.environment,
        rps: stored.rps,
        rpm: stored.rpm,
        rps_window: None,
        rpm_window: None,
        expires_at: stored.expires_at.map(Timestamp::from_unix_millis),
        revoked_at: revoked_at.map(Timestamp::from_unix_millis),
        owner: stored.owner,
    };
    let usage = KeyUsage {
        request_count: count.unwrap_or(0),
        last_used: last_used.map(Timestamp::from_unix_millis),
    };
    Ok(Some((record, usage)))
}
