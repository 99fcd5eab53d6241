//! A key record as Redis holds it, and back.

use std::sync::Arc;
use std::time::Duration;

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
    /// Whole seconds; absent when the key sets no window (the deployment's default), so a
    /// record without windows keeps the JSON it had and an upsert of it stays `unchanged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rps_window: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rpm_window: Option<u64>,
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
        rps_window: record.rps_window.map(|w| w.as_secs()),
        rpm_window: record.rpm_window.map(|w| w.as_secs()),
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
        rps_window: stored.rps_window.map(Duration::from_secs),
        rpm_window: stored.rpm_window.map(Duration::from_secs),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> StoredFields {
        (Some(json.to_owned()), None, None, None)
    }

    #[test]
    fn windows_round_trip_as_whole_seconds_and_are_left_out_when_unset() {
        let hash = KeyHash::from_bytes([7; 32]);
        let plain = KeyRecord::new("key_a", hash, "proj_a", Environment::Production);
        let json = encode(&plain).unwrap();
        assert!(!json.contains("window"), "{json}");
        let windowed =
            plain.with_windows(Some(Duration::from_secs(4)), Some(Duration::from_secs(600)));
        let json = encode(&windowed).unwrap();
        assert!(
            json.contains(r#""rps_window":4,"rpm_window":600"#),
            "{json}"
        );
        let (read, _) = decode(hash, fields(&json)).unwrap().unwrap();
        assert_eq!(read, windowed);
    }

    #[test]
    fn a_record_stored_without_windows_reads_with_the_defaults() {
        let json = r#"{"id":"key_a","project":"proj_a","environment":"production","rps":3,"rpm":null,"expires_at":null,"owner":"api"}"#;
        let (read, _) = decode(KeyHash::from_bytes([7; 32]), fields(json))
            .unwrap()
            .unwrap();
        assert_eq!(
            (read.rps, read.rps_window, read.rpm_window),
            (Some(3), None, None)
        );
    }
}
