//! How records are written in the database: JSON for key records and webhook messages (small,
//! readable with any tool, and new optional fields need no migration), fixed-width values for
//! counters.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::EmbeddedError;
use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::key::{KeyHash, KeyRecord};
use crate::quota::{Month, Operation};
use crate::store::{AppliedConfig, ConfigDigest, RecordOwner};
use crate::webhook::{DeadLetter, Delivery};

/// A key record as stored: the hash in hex, instants in unix milliseconds.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredKey {
    id: String,
    sha256: String,
    project: String,
    environment: Environment,
    rps: Option<u32>,
    rpm: Option<u32>,
    /// Whole seconds; absent in a record that sets no window (the deployment's default), and in
    /// every record written before keys had windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rps_window: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rpm_window: Option<u64>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    /// Absent in a record written before records had owners: those came from the file.
    #[serde(default = "config_owned")]
    owner: RecordOwner,
}

fn config_owned() -> RecordOwner {
    RecordOwner::Config
}

pub(super) fn encode_key(record: &KeyRecord) -> Vec<u8> {
    let stored = StoredKey {
        id: record.id.to_string(),
        sha256: record.sha256.to_hex(),
        project: record.project.to_string(),
        environment: record.environment,
        rps: record.rps,
        rpm: record.rpm,
        rps_window: record.rps_window.map(|w| w.as_secs()),
        rpm_window: record.rpm_window.map(|w| w.as_secs()),
        expires_at: record.expires_at.map(Timestamp::unix_millis),
        revoked_at: record.revoked_at.map(Timestamp::unix_millis),
        owner: record.owner,
    };
    // A struct of strings and numbers always serializes.
    serde_json::to_vec(&stored).unwrap_or_default()
}

pub(super) fn decode_key(bytes: &[u8]) -> Result<KeyRecord, EmbeddedError> {
    let stored: StoredKey = serde_json::from_slice(bytes)
        .map_err(|e| EmbeddedError::Database(format!("an unreadable key record: {e}")))?;
    let sha256 = KeyHash::from_hex(&stored.sha256)
        .map_err(|e| EmbeddedError::Database(format!("key record `{}`: {e}", stored.id)))?;
    let mut record = KeyRecord::new(stored.id, sha256, stored.project, stored.environment)
        .with_limits(stored.rps, stored.rpm)
        .with_windows(
            stored.rps_window.map(Duration::from_secs),
            stored.rpm_window.map(Duration::from_secs),
        )
        .with_owner(stored.owner);
    record.expires_at = stored.expires_at.map(Timestamp::from_unix_millis);
    record.revoked_at = stored.revoked_at.map(Timestamp::from_unix_millis);
    Ok(record)
}

/// A webhook message as stored.
#[derive(Serialize, Deserialize)]
struct StoredDelivery {
    id: String,
    /// Absent in a message queued before deliveries named their endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    url: String,
    event_type: String,
    /// The JSON body, as text.
    body: String,
    created_at: i64,
    attempts: u32,
    due_at: i64,
}

/// A dead letter as stored.
#[derive(Serialize, Deserialize)]
struct StoredDeadLetter {
    delivery: StoredDelivery,
    reason: String,
    at: i64,
}

fn stored_delivery(delivery: &Delivery) -> StoredDelivery {
    StoredDelivery {
        id: delivery.id.to_string(),
        endpoint: delivery.endpoint.as_deref().map(str::to_owned),
        url: delivery.url.to_string(),
        event_type: delivery.event_type.to_string(),
        body: String::from_utf8_lossy(&delivery.body).into_owned(),
        created_at: delivery.created_at.unix_millis(),
        attempts: delivery.attempts,
        due_at: delivery.due_at.unix_millis(),
    }
}

fn delivery_of(stored: StoredDelivery) -> Delivery {
    Delivery {
        id: Arc::from(stored.id),
        endpoint: stored.endpoint.map(Arc::from),
        url: Arc::from(stored.url),
        event_type: Arc::from(stored.event_type),
        body: Bytes::from(stored.body),
        created_at: Timestamp::from_unix_millis(stored.created_at),
        attempts: stored.attempts,
        due_at: Timestamp::from_unix_millis(stored.due_at),
    }
}

pub(super) fn encode_delivery(delivery: &Delivery) -> Vec<u8> {
    serde_json::to_vec(&stored_delivery(delivery)).unwrap_or_default()
}

pub(super) fn decode_delivery(bytes: &[u8]) -> Result<Delivery, EmbeddedError> {
    serde_json::from_slice(bytes)
        .map(delivery_of)
        .map_err(|e| EmbeddedError::Database(format!("an unreadable webhook message: {e}")))
}

pub(super) fn encode_dead_letter(letter: &DeadLetter) -> Vec<u8> {
    let stored = StoredDeadLetter {
        delivery: stored_delivery(&letter.delivery),
        reason: letter.reason.clone(),
        at: letter.at.unix_millis(),
    };
    serde_json::to_vec(&stored).unwrap_or_default()
}

pub(super) fn decode_dead_letter(bytes: &[u8]) -> Result<DeadLetter, EmbeddedError> {
    let stored: StoredDeadLetter = serde_json::from_slice(bytes)
        .map_err(|e| EmbeddedError::Database(format!("an unreadable dead letter: {e}")))?;
    Ok(DeadLetter {
        delivery: delivery_of(stored.delivery),
        reason: stored.reason,
        at: Timestamp::from_unix_millis(stored.at),
    })
}

/// `YYYY-MM`, as the quota tables key months.
pub(super) fn month_text(month: Month) -> String {
    month.to_string()
}

pub(super) fn parse_month(text: &str) -> Option<Month> {
    let (year, number) = text.split_once('-')?;
    Month::new(year.parse().ok()?, number.parse().ok()?)
}

pub(super) fn parse_operation(text: &str) -> Option<Operation> {
    match text {
        "add" => Some(Operation::Add),
        "query" => Some(Operation::Query),
        _ => None,
    }
}

/// Last use as stored: `i64::MIN` for never.
pub(super) const NEVER_USED: i64 = i64::MIN;

/// The config file last reconciled: its version (8 bytes, big-endian), then its digest.
pub(super) fn encode_applied(applied: &AppliedConfig) -> [u8; 40] {
    let mut bytes = [0; 40];
    bytes[..8].copy_from_slice(&applied.version.to_be_bytes());
    bytes[8..].copy_from_slice(&applied.digest.0);
    bytes
}

/// [`encode_applied`] read back; `None` for a row of another length.
pub(super) fn decode_applied(bytes: &[u8]) -> Option<AppliedConfig> {
    let version = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let digest: [u8; 32] = bytes.get(8..)?.try_into().ok()?;
    Some(AppliedConfig {
        version,
        digest: ConfigDigest(digest),
    })
}
