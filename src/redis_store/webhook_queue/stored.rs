//! A delivery and a dead letter as Redis holds them, and back.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::webhook::Delivery;

/// A delivery's stored form.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredDelivery {
    id: String,
    /// Absent in a delivery queued before deliveries named their endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    url: String,
    event_type: String,
    /// Base64 (standard, padded).
    body: String,
    created_at: i64,
    pub(super) attempts: u32,
    pub(super) due_at: i64,
}

impl From<&Delivery> for StoredDelivery {
    fn from(d: &Delivery) -> Self {
        StoredDelivery {
            id: d.id.to_string(),
            endpoint: d.endpoint.as_deref().map(str::to_owned),
            url: d.url.to_string(),
            event_type: d.event_type.to_string(),
            body: STANDARD.encode(&d.body),
            created_at: d.created_at.unix_millis(),
            attempts: d.attempts,
            due_at: d.due_at.unix_millis(),
        }
    }
}

impl StoredDelivery {
    pub(super) fn into_delivery(self) -> Result<Delivery, StoreError> {
        let body = STANDARD
            .decode(self.body)
            .map_err(|_| StoreError::new("redis: a queued webhook body is not base64"))?;
        Ok(Delivery {
            id: Arc::from(self.id),
            endpoint: self.endpoint.map(Arc::from),
            url: Arc::from(self.url),
            event_type: Arc::from(self.event_type),
            body: Bytes::from(body),
            created_at: Timestamp::from_unix_millis(self.created_at),
            attempts: self.attempts,
            due_at: Timestamp::from_unix_millis(self.due_at),
        })
    }
}

/// A dead letter's stored form.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredLetter {
    pub(super) delivery: StoredDelivery,
    pub(super) reason: String,
    pub(super) at: i64,
}

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::new("webhook delivery not serializable"))
}

pub(super) fn from_json<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|_| StoreError::new("redis: unreadable webhook record"))
}

/// A sorted-set score (milliseconds) as a timestamp.
pub(super) fn score_time(score: &str) -> Result<Timestamp, StoreError> {
    let millis: f64 = score
        .parse()
        .map_err(|_| StoreError::new("redis: unreadable webhook due time"))?;
    // Scores are whole milliseconds, exact in an f64 for any date this crate handles.
    Ok(Timestamp::from_unix_millis(millis as i64))
}
