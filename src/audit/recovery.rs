//! The event that records what a sink repaired when its writer started.

use http::HeaderMap;

use super::request_id::request_id;
use super::{AuditEvent, Outcome};
use crate::clock::Timestamp;

/// The method of the event that records a repair at start ([`AuditSink::resume`](super::AuditSink::resume)):
/// no HTTP method has this name. `memorysync audit verify` lists these events as declared
/// recoveries.
pub const RECOVERY_METHOD: &str = "RECOVERY";

/// The path of a [`RECOVERY_METHOD`] event.
pub const RECOVERY_PATH: &str = "/audit";

/// A `RECOVERY` event at `now` whose `detail` says what was repaired. Outcome `error`: a crash
/// or a hand left the log that way.
pub(super) fn recovery_event(detail: String, now: Timestamp) -> AuditEvent {
    AuditEvent {
        ts: now,
        request_id: request_id(&HeaderMap::new()).0,
        method: RECOVERY_METHOD.to_owned(),
        path: RECOVERY_PATH.to_owned(),
        status: 200,
        outcome: Outcome::Error,
        key_id: None,
        project: None,
        environment: None,
        client_ip: None,
        user_agent: None,
        latency_us: 0,
        detail: Some(detail),
    }
}
