//! What `memorysync webhooks` shows of endpoints, attempts and dead letters.
//!
//! The first pointer of each cell is the field the API documents; the ones after it are the
//! names the same value may have in an answer, so that a table stays full if a field is named
//! otherwise.

use serde_json::Value;

use super::table::{Column, field, plain, record};

/// The projects an endpoint serves: `*` for every project's (operator-wide).
fn projects(item: &Value) -> String {
    match item.get("projects") {
        Some(Value::Array(list)) if !list.is_empty() => plain(&Value::Array(list.clone())),
        _ => match item.get("project").and_then(Value::as_str) {
            Some(project) => project.to_owned(),
            None => "*".to_owned(),
        },
    }
}

/// The columns of `webhooks endpoints list`.
pub(crate) const ENDPOINT_TABLE: &[Column] = &[
    Column::at("ID", &["/id"]),
    Column::at("OWNER", &["/owner"]),
    Column::with("PROJECTS", projects),
    Column::at("STATE", &["/state", "/status"]),
    Column::at("EVENTS", &["/events"]),
    Column::at("URL", &["/url"]),
];

/// The fields of one endpoint.
pub(crate) const ENDPOINT_RECORD: &[Column] = &[
    Column::at("ID", &["/id"]),
    Column::at("OWNER", &["/owner"]),
    Column::with("PROJECTS", projects),
    Column::at("URL", &["/url"]),
    Column::at("EVENTS", &["/events"]),
    Column::at("STATE", &["/state", "/status"]),
    Column::at("CREATED_AT", &["/created_at"]),
    Column::at("UPDATED_AT", &["/updated_at"]),
    Column::at("OLD_SECRET_UNTIL", &["/secret_rotation_ends_at"]),
];

/// The columns of `webhooks attempts`.
pub(crate) const ATTEMPT_TABLE: &[Column] = &[
    Column::at("TIME", &["/time", "/at", "/ts", "/attempted_at"]),
    Column::at("ENDPOINT", &["/endpoint", "/endpoint_id"]),
    Column::at("EVENT", &["/event", "/event_type"]),
    Column::at("ATTEMPT", &["/attempt"]),
    Column::at("STATUS", &["/status"]),
    Column::at("LATENCY_MS", &["/latency_ms", "/latency"]),
    Column::at("ERROR", &["/error"]),
];

/// The columns of `webhooks dead-letters`.
pub(crate) const DEAD_LETTER_TABLE: &[Column] = &[
    Column::at("ID", &["/id"]),
    Column::at("ENDPOINT", &["/endpoint", "/endpoint_id"]),
    Column::at("EVENT", &["/event", "/event_type"]),
    Column::at("PROJECT", &["/project"]),
    Column::at("ATTEMPTS", &["/attempts"]),
    Column::at("FAILED_AT", &["/failed_at", "/dead_at", "/at"]),
    Column::at("REASON", &["/reason", "/error", "/last_error"]),
];

/// The line above the dead letters' table.
pub(crate) fn dead_letter_count(answer: &Value) -> String {
    format!("dead letters: {}", field(answer, &["/count"]))
}

/// After a new signing secret: the endpoint it belongs to.
pub(crate) fn new_secret(answer: &Value) -> String {
    let endpoint = ["endpoint", "record"]
        .iter()
        .find_map(|name| answer.get(*name))
        .unwrap_or(answer);
    record(ENDPOINT_RECORD, endpoint)
}
