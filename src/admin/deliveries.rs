//! `/admin/v1/webhooks/attempts` and `/admin/v1/webhooks/dead-letters`: every delivery attempt
//! (kept for the audit retention), and the deliveries that used up their attempts, replayed
//! one by one or all since a time.

use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminApi;
use super::call::Target;
use super::extract::{Path, Query};
use super::page::limit;
use super::problem::{AdminError, Problems};
use super::values::timestamp;
use crate::clock::Timestamp;
use crate::deployment::DeploymentWebhooks;
use crate::webhook::attempt_log::{AttemptLog, AttemptQuery, AttemptRecord, StatusFilter};
use crate::webhook::{DeadLetter, PageError};

/// One attempt at a delivery (the console reads it back from the answer).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AttemptView {
    /// RFC 3339: when it was sent.
    pub(crate) at: String,
    /// The endpoint's id.
    pub(crate) endpoint: String,
    /// The message's `webhook-id`.
    pub(crate) message: String,
    /// The event type.
    pub(crate) event_type: String,
    /// The receiver's HTTP status; `null` when none came (timeout, refused connection).
    pub(crate) status: Option<u16>,
    /// From sending to the answer or the failure.
    pub(crate) latency_ms: u64,
    /// What went wrong; `null` for a delivery.
    pub(crate) error: Option<String>,
}

impl From<AttemptRecord> for AttemptView {
    fn from(attempt: AttemptRecord) -> Self {
        AttemptView {
            at: attempt.at.to_rfc3339(),
            endpoint: attempt.endpoint.to_string(),
            message: attempt.message.to_string(),
            event_type: attempt.event_type.to_string(),
            status: attempt.status,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
        }
    }
}

/// A page of attempts, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AttemptPage {
    /// The attempts.
    pub(crate) items: Vec<AttemptView>,
    /// Give it as `?cursor=` for the next page; `null` on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// `GET /admin/v1/webhooks/attempts`'s filters and page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AttemptFilter {
    /// Only this endpoint's attempts.
    endpoint: Option<String>,
    /// `delivered` (a 2xx), `failed`, or one HTTP status, e.g. `503`.
    #[param(pattern = "^(delivered|failed|[1-5][0-9][0-9])$")]
    status: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Delivery attempts, newest first.
#[utoipa::path(get, path = "/admin/v1/webhooks/attempts", tag = "webhooks",
    params(AttemptFilter),
    responses((status = 200, body = AttemptPage), Problems))]
pub(crate) async fn attempts(
    State(api): State<AdminApi>,
    Query(filter): Query<AttemptFilter>,
) -> Result<axum::Json<AttemptPage>, AdminError> {
    let status = filter
        .status
        .as_deref()
        .map(str::parse::<StatusFilter>)
        .transpose()
        .map_err(|e| AdminError::bad_request(e.to_string()))?;
    let query = AttemptQuery {
        endpoint: filter.endpoint,
        status,
        cursor: filter.cursor,
        limit: limit(filter.limit)?,
    };
    let page = api
        .deployment()
        .webhook_attempts()
        .query(&query)
        .await
        .map_err(page_error)?;
    Ok(axum::Json(AttemptPage {
        items: page.items.into_iter().map(AttemptView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A delivery that used up its attempts, or whose endpoint was disabled or deleted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterView {
    /// Its id: the same on every instance, for a replay.
    id: String,
    /// The message's `webhook-id`.
    message: String,
    /// The endpoint's id (its URL, for a delivery queued before deliveries named endpoints).
    endpoint: String,
    /// The URL it was last sent to.
    url: String,
    /// The event type.
    event_type: String,
    /// Attempts made.
    attempts: u32,
    /// The last failure.
    reason: String,
    /// RFC 3339: when it was dead-lettered.
    dead_at: String,
    /// RFC 3339: when the message was made.
    created_at: String,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(letter: DeadLetter) -> Self {
        DeadLetterView {
            id: letter.id(),
            message: letter.delivery.id.to_string(),
            endpoint: letter.delivery.target().to_string(),
            url: letter.delivery.url.to_string(),
            event_type: letter.delivery.event_type.to_string(),
            attempts: letter.delivery.attempts,
            reason: letter.reason,
            dead_at: letter.at.to_rfc3339(),
            created_at: letter.delivery.created_at.to_rfc3339(),
        }
    }
}

/// The dead letters: how many, and a page of them, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterPage {
    /// Dead letters in all.
    count: usize,
    /// This page.
    items: Vec<DeadLetterView>,
    /// Give it as `?cursor=` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// The page asked for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The dead letters, newest first, with their count.
#[utoipa::path(get, path = "/admin/v1/webhooks/dead-letters", tag = "webhooks",
    params(PageQuery),
    responses((status = 200, body = DeadLetterPage), Problems))]
pub(crate) async fn dead_letters(
    State(api): State<AdminApi>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<DeadLetterPage>, AdminError> {
    let limit = limit(query.limit)?;
    let page = webhooks(&api)?
        .dead_letter_page(query.cursor.as_deref(), limit)
        .await
        .map_err(page_error)?;
    Ok(axum::Json(DeadLetterPage {
        count: page.count,
        items: page.items.into_iter().map(DeadLetterView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// How many dead letters went back to the queue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// Deliveries queued again, each with a fresh set of attempts, due now.
    replayed: usize,
}

/// Sends one dead letter again.
#[utoipa::path(post, path = "/admin/v1/webhooks/dead-letters/{id}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "The dead letter's id")),
    responses((status = 200, body = Replayed), Problems))]
pub(crate) async fn replay_one(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<axum::response::Response, AdminError> {
    let found = webhooks(&api)?
        .replay_letter(&id)
        .await
        .map_err(|e| AdminError::unavailable(&e))?;
    if !found {
        return Err(AdminError::not_found(
            "unknown_dead_letter",
            format!("no dead letter `{id}`"),
        ));
    }
    // The audit event names the letter: `detail` ends with `dead_letter=<id>`.
    Ok(Target::default()
        .noting(format!("dead_letter={id}"))
        .on(axum::Json(Replayed { replayed: 1 })))
}

/// `POST /admin/v1/webhooks/dead-letters/replay?since=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Since {
    /// RFC 3339: every letter dead-lettered at or after this time.
    since: String,
}

/// Sends again every letter dead-lettered since a time.
#[utoipa::path(post, path = "/admin/v1/webhooks/dead-letters/replay", tag = "webhooks",
    params(Since),
    responses((status = 200, body = Replayed), Problems))]
pub(crate) async fn replay_since(
    State(api): State<AdminApi>,
    Query(query): Query<Since>,
) -> Result<axum::Json<Replayed>, AdminError> {
    let since: Timestamp = timestamp("since", &query.since)?;
    let replayed = webhooks(&api)?
        .replay_since(since)
        .await
        .map_err(|e| AdminError::unavailable(&e))?;
    Ok(axum::Json(Replayed { replayed }))
}

fn webhooks(api: &AdminApi) -> Result<&DeploymentWebhooks, AdminError> {
    api.deployment().webhooks().ok_or_else(|| {
        AdminError::conflict(
            "webhooks_unavailable",
            "this deployment delivers no webhooks (built without a webhook transport)",
        )
    })
}

fn page_error(error: PageError) -> AdminError {
    match error {
        PageError::Store(e) => AdminError::unavailable(&e),
        other => AdminError::new(StatusCode::BAD_REQUEST, "invalid_cursor", other.to_string()),
    }
}
