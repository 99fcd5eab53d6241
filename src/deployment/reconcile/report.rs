//! What a reconciliation tells the operator: a log line with its summary, and an audit event
//! of its own.

use super::{ReconcileError, ReconcileSummary};
use crate::audit::{AuditEvent, Outcome};
use crate::clock::Timestamp;
use crate::store::AppliedConfig;

/// The audit event's method: no HTTP method has this name.
pub(crate) const METHOD: &str = "RECONCILE";

/// The audit event's path.
pub(crate) const PATH: &str = "/config";

/// Logs the outcome: a summary when applied, a warning for each refused record, and a warning
/// or an error when the file was not applied.
pub(super) fn logged(result: &Result<ReconcileSummary, ReconcileError>, file: AppliedConfig) {
    let digest = &file.digest.to_hex()[..12];
    match result {
        Ok(summary) => {
            for refused in &summary.refused {
                tracing::warn!(
                    kind = refused.kind,
                    id = &*refused.id,
                    reason = %refused.reason,
                    "config reconciliation: a record of the file was refused"
                );
            }
            tracing::info!(
                config_version = summary.config_version,
                digest,
                added = summary.added,
                changed = summary.changed,
                revoked = summary.revoked,
                plans_changed = summary.plans_changed,
                refused = summary.refused.len(),
                "config reconciled"
            );
        }
        Err(error) if error.is_refusal() => {
            tracing::warn!(config_version = file.version, digest, %error, "config refused");
        }
        Err(error) => {
            tracing::error!(config_version = file.version, digest, %error, "config not reconciled");
        }
    }
}

/// The audit event of a reconciliation: see the module docs of `reconcile`.
pub(super) fn event(
    result: &Result<ReconcileSummary, ReconcileError>,
    file: AppliedConfig,
    id: String,
    now: Timestamp,
) -> AuditEvent {
    let version = file.version;
    let (status, outcome, detail) = match result {
        Ok(s) => (
            200,
            Outcome::Allowed,
            format!(
                "config_version={version} added={} changed={} revoked={} plans_changed={} refused={}",
                s.added,
                s.changed,
                s.revoked,
                s.plans_changed,
                s.refused.len()
            ),
        ),
        Err(ReconcileError::Older { applied, .. }) => (
            409,
            Outcome::Error,
            format!("config_version={version} refused: older than the applied {applied}"),
        ),
        Err(ReconcileError::Conflicting { .. }) => (
            409,
            Outcome::Error,
            format!("config_version={version} refused: another file with this version was applied"),
        ),
        Err(error) => (
            503,
            Outcome::Error,
            format!("config_version={version} failed: {error}"),
        ),
    };
    AuditEvent {
        ts: now,
        request_id: id,
        method: METHOD.to_owned(),
        path: PATH.to_owned(),
        status,
        outcome,
        key_id: None,
        project: None,
        environment: None,
        client_ip: None,
        user_agent: None,
        latency_us: 0,
        detail: Some(detail),
    }
}

/// A fresh id: `rec_` and 16 random hex digits, naming one reconciliation in its lease and its
/// audit event.
pub(super) fn reconciliation_id() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness the id only loses its uniqueness across processes; the instance name
    // in the lease holder still tells them apart.
    let _ = getrandom::fill(&mut bytes);
    format!("rec_{:016x}", u64::from_le_bytes(bytes))
}
