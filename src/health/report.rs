//! Running the checks and writing the report.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::check::{CheckStatus, HealthCheck};

/// `{"status":"ok"}`, written once.
pub(super) const OK_BODY: &[u8] = br#"{"status":"ok"}"#;

/// Runs every check with a deadline: each one's name and status, in order.
pub(super) async fn each_check(
    checks: &[Arc<dyn HealthCheck>],
    timeout: Duration,
) -> Vec<(String, CheckStatus)> {
    let mut statuses = Vec::with_capacity(checks.len());
    for check in checks {
        let status = match tokio::time::timeout(timeout, check.check()).await {
            Ok(status) => status,
            Err(_) => CheckStatus::Degraded("timed out".into()),
        };
        statuses.push((check.name().to_owned(), status));
    }
    statuses
}

/// Runs every check with a deadline and writes the report body.
pub(super) async fn run_checks(checks: Arc<[Arc<dyn HealthCheck>]>, timeout: Duration) -> Bytes {
    let mut results = Map::new();
    let mut degraded = false;
    for (name, status) in each_check(&checks, timeout).await {
        let shown = match status {
            CheckStatus::Ok => "ok".to_owned(),
            CheckStatus::Degraded(why) => {
                degraded = true;
                why.into_owned()
            }
        };
        results.insert(name, Value::String(shown));
    }
    if !degraded {
        return Bytes::from_static(OK_BODY);
    }
    let report = json!({ "status": "degraded", "checks": results });
    Bytes::from(report.to_string())
}
