//! `/admin/v1/audit`: the deployment's audit log read back, newest first, and its chain
//! verified.

use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminApi;
use super::extract::Query;
use super::page::{Page, limit};
use super::problem::{AdminError, Problems};
use super::values::timestamp;
use crate::audit::{AuditCursor, AuditQuery, AuditReadError, Outcome, VerifyReport};

/// How a call ended, as the log writes it.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OutcomeName {
    /// Served.
    Allowed,
    /// Refused for its key.
    Unauthenticated,
    /// Refused for its project scope, or a read token's change.
    Forbidden,
    /// Refused by a rate limit.
    RateLimited,
    /// Answered empty: the quota is used up.
    Degraded,
    /// Failed.
    Error,
}

impl From<OutcomeName> for Outcome {
    fn from(name: OutcomeName) -> Self {
        match name {
            OutcomeName::Allowed => Outcome::Allowed,
            OutcomeName::Unauthenticated => Outcome::Unauthenticated,
            OutcomeName::Forbidden => Outcome::Forbidden,
            OutcomeName::RateLimited => Outcome::RateLimited,
            OutcomeName::Degraded => Outcome::Degraded,
            OutcomeName::Error => Outcome::Error,
        }
    }
}

/// `GET /admin/v1/audit`'s filters and page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditFilter {
    /// RFC 3339: events at or after this time.
    from: Option<String>,
    /// RFC 3339: events before this time.
    to: Option<String>,
    /// Events of this key (for an admin call: the key it acted on).
    key_id: Option<String>,
    /// Events of this project.
    project: Option<String>,
    /// Events with this outcome.
    outcome: Option<OutcomeName>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// One line of the audit log, as it is written (the fields of section 7, with the chain's).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct AuditLine {
    /// When the call arrived, RFC 3339 UTC.
    ts: String,
    /// The call's `X-Request-Id`.
    request_id: String,
    /// The method (`RECONCILE`, `RECOVERY` for operator events).
    method: String,
    /// The path, without the query string.
    path: String,
    /// The final status.
    status: u16,
    /// How the call ended.
    outcome: String,
    /// The key, once authenticated (for an admin call: the key it acted on).
    key_id: Option<String>,
    /// The project.
    project: Option<String>,
    /// The key's environment.
    environment: Option<String>,
    /// The client address.
    client_ip: Option<String>,
    /// The user agent.
    user_agent: Option<String>,
    /// Microseconds from arrival to response.
    latency_us: u64,
    /// What an operator's event or an admin call did (absent for API calls).
    detail: Option<String>,
    /// The line's place in the chain.
    seq: u64,
    /// The SHA-256 of the line before.
    prev: String,
}

/// Events, newest first.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit", params(AuditFilter),
    responses((status = 200, body = Page<AuditLine>), Problems))]
pub(crate) async fn query(
    State(api): State<AdminApi>,
    Query(filter): Query<AuditFilter>,
) -> Result<axum::Json<Page<serde_json::Value>>, AdminError> {
    let limit = limit(filter.limit)?;
    let mut query = AuditQuery::new();
    query.from = filter
        .from
        .as_deref()
        .map(|t| timestamp("from", t))
        .transpose()?;
    query.to = filter
        .to
        .as_deref()
        .map(|t| timestamp("to", t))
        .transpose()?;
    query.key_id = filter.key_id;
    query.project = filter.project;
    query.outcome = filter.outcome.map(Outcome::from);
    query.cursor = filter
        .cursor
        .as_deref()
        .map(str::parse::<AuditCursor>)
        .transpose()
        .map_err(read_error)?;
    query.limit = limit;
    // The calls recorded before this one are in the log before it is read (an operator who
    // revokes a key and then asks for its events finds the revocation).
    let _ = tokio::time::timeout(FLUSH_WAIT, api.deployment().audit().flush()).await;
    let page = api
        .deployment()
        .audit_source()
        .query_async(query)
        .await
        .map_err(read_error)?;
    Ok(axum::Json(Page {
        items: page.items,
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// How long a verification waits for the events recorded before it to be written.
const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The head of a chain: the last line's place and hash.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct HeadView {
    /// The last line's `seq`.
    seq: u64,
    /// The SHA-256 of the last line.
    hash: String,
}

/// What a verification of the chain found.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct VerifyView {
    /// The chain is intact, reaches its head checkpoint, and no declared recovery lost lines.
    ok: bool,
    /// Lines read.
    lines: u64,
    /// The last line; `null` for an empty log.
    head: Option<HeadView>,
    /// The head checkpoint and whether the log reaches it (`status`: `reached`, `not_reached`,
    /// ...); `null` when the log keeps none.
    #[schema(value_type = Option<Object>)]
    checkpoint: Option<serde_json::Value>,
    /// A last line without its newline: cut by a crash, not a break.
    #[schema(value_type = Option<Object>)]
    torn_tail: Option<serde_json::Value>,
    /// The `RECOVERY` events the server declared at its starts.
    #[schema(value_type = Vec<Object>)]
    recoveries: Vec<serde_json::Value>,
    /// The first line where the chain breaks (`kind`, `line`, `seq`, `reason`); `null` when
    /// intact.
    #[schema(value_type = Option<Object>)]
    first_break: Option<serde_json::Value>,
}

/// Reads the whole chain and checks every link, the head checkpoint and the declared
/// recoveries. One at a time: asked for while one runs, it is 429 `verification_running`.
#[utoipa::path(get, path = "/admin/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyView), Problems))]
pub(crate) async fn verify(
    State(api): State<AdminApi>,
) -> Result<axum::Json<VerifyReport>, AdminError> {
    // Each verification reads the whole log: callers (a read token suffices) cannot stack
    // them up.
    let Some(_one_at_a_time) = api.verification() else {
        return Err(AdminError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "verification_running",
            "a verification of the chain is under way; ask again when it ends",
        ));
    };
    // Everything recorded so far is in the log before it is read; a sink that keeps failing
    // does not hold the answer (the report then ends where the log does).
    let _ = tokio::time::timeout(FLUSH_WAIT, api.deployment().audit().flush()).await;
    api.deployment()
        .audit_source()
        .verify_async()
        .await
        .map(axum::Json)
        .map_err(read_error)
}

fn read_error(error: AuditReadError) -> AdminError {
    let status = match &error {
        AuditReadError::FromAfterTo { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AuditReadError::InvalidCursor(_) => StatusCode::BAD_REQUEST,
        AuditReadError::Unreadable => StatusCode::CONFLICT,
        _ => {
            // The error names files and the operating system's reason: logged here, and the
            // caller (a read token suffices) gets a fixed sentence.
            tracing::error!(%error, "the audit log could not be read");
            return AdminError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                "the audit log could not be read; the server's log says why",
            );
        }
    };
    AdminError::new(status, error.code(), error.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::admin::AdminTokens;
    use crate::config::Config;
    use crate::deployment::{Deployment, DeploymentOptions};

    #[tokio::test]
    async fn a_verification_asked_for_while_one_runs_is_refused_at_once() {
        let config = Config::from_toml("environment = \"development\"\n").unwrap();
        let deployment = Deployment::start(&config, DeploymentOptions::new())
            .await
            .unwrap();
        let api = AdminApi::new(Arc::new(deployment), AdminTokens::new(Vec::new()));
        let running = api.verification().expect("none runs yet");
        let refused = verify(State(api.clone())).await.unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::TOO_MANY_REQUESTS, "verification_running")
        );
        drop(running);
        assert!(
            verify(State(api)).await.is_ok(),
            "it runs once the other ended"
        );
    }
}
