//! `/admin/v1/webhooks/endpoints`: receivers managed at run time, in force on every instance
//! within a second; a new signing secret is shown once, in the answer that made it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminApi;
use super::call::Target;
use super::extract::{Body, Path, Query};
use super::page::{Page, page};
use super::problem::{AdminError, Problems};
use crate::webhook::endpoints::{EndpointError, EndpointPatch, EndpointView, NewEndpoint};

/// The longest overlap a secret rotation may give the old secret: 30 days.
const MAX_OVERLAP_SECONDS: u64 = 30 * 86_400;
/// The overlap when the rotation does not say: a day, for receivers to pick the new secret up.
const DEFAULT_OVERLAP_SECONDS: u64 = 86_400;

/// An endpoint as the API shows it: never a secret.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct EndpointDoc {
    /// Its id.
    id: String,
    /// `config` (change it in the file; its state excepted) or `api`.
    owner: String,
    /// Its project when it serves exactly one; `null` for operator-wide endpoints.
    project: Option<String>,
    /// Every project it serves; empty: every project's events (operator-wide).
    projects: Vec<String>,
    /// Where deliveries go.
    url: String,
    /// The event types it takes.
    events: Vec<String>,
    /// `enabled`, `disabled_gone` (the receiver answered 410) or `disabled_by_operator`.
    state: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
    /// RFC 3339: while a rotation's old secret still signs, when it stops.
    secret_rotation_ends_at: Option<String>,
}

/// A new signing secret, shown this once, and its endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretAndEndpoint {
    /// The `whsec_` secret: give it to the receiver now, no answer shows it again.
    secret: String,
    /// The endpoint.
    #[schema(value_type = EndpointDoc)]
    endpoint: EndpointView,
}

/// `GET /admin/v1/webhooks/endpoints`'s filter and page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EndpointFilter {
    /// Only the endpoints this project's events reach (its own and the operator-wide ones).
    project: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Endpoints, sorted by id.
#[utoipa::path(get, path = "/admin/v1/webhooks/endpoints", tag = "webhooks",
    params(EndpointFilter),
    responses((status = 200, body = Page<EndpointDoc>), Problems))]
pub(crate) async fn list(
    State(api): State<AdminApi>,
    Query(filter): Query<EndpointFilter>,
) -> Result<axum::Json<Page<EndpointView>>, AdminError> {
    let mut endpoints = api
        .deployment()
        .endpoints()
        .list(filter.project.as_deref())
        .await
        .map_err(endpoint_error)?;
    endpoints.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let page = page(endpoints, |e| &e.id, filter.cursor.as_deref(), filter.limit)?;
    Ok(axum::Json(page))
}

/// `POST /admin/v1/webhooks/endpoints`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEndpointBody {
    /// The project whose events it receives; left out: every project's (operator-wide).
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    project: Option<String>,
    /// `https://` (in production, to a globally routable host).
    url: String,
    /// The event types: `quota.threshold`, `quota.exhausted`, `webhook.test`, ...
    events: Vec<String>,
}

/// Creates an endpoint with a new secret, shown this once.
#[utoipa::path(post, path = "/admin/v1/webhooks/endpoints", tag = "webhooks",
    request_body = NewEndpointBody,
    responses((status = 201, body = SecretAndEndpoint), Problems))]
pub(crate) async fn create(
    State(api): State<AdminApi>,
    Body(body): Body<NewEndpointBody>,
) -> Result<Response, AdminError> {
    let new = NewEndpoint {
        project: body.project,
        url: body.url,
        events: body.events,
    };
    let (endpoint, secret) = api
        .deployment()
        .endpoints()
        .create(new)
        .await
        .map_err(endpoint_error)?;
    let target = target(&endpoint);
    let answer = SecretAndEndpoint {
        secret: secret.expose(),
        endpoint,
    };
    Ok(target.on((StatusCode::CREATED, axum::Json(answer))))
}

/// One endpoint.
#[utoipa::path(get, path = "/admin/v1/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, body = EndpointDoc), Problems))]
pub(crate) async fn show(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    answered(api.deployment().endpoints().get(&id).await)
}

/// `PATCH /admin/v1/webhooks/endpoints/{id}`: each field left out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointPatchBody {
    /// A new URL (API endpoints only): queued deliveries go there too.
    url: Option<String>,
    /// New event types (API endpoints only).
    events: Option<Vec<String>>,
    /// `false` disables it, `true` enables it (after a 410 too); any endpoint.
    enabled: Option<bool>,
}

/// Changes an endpoint: an API endpoint's URL and events; any endpoint's state.
#[utoipa::path(patch, path = "/admin/v1/webhooks/endpoints/{id}", tag = "webhooks",
    request_body = EndpointPatchBody,
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, body = EndpointDoc), Problems))]
pub(crate) async fn update(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
    Body(body): Body<EndpointPatchBody>,
) -> Result<Response, AdminError> {
    let patch = EndpointPatch {
        url: body.url,
        events: body.events,
        enabled: body.enabled,
    };
    answered(api.deployment().endpoints().update(&id, patch).await)
}

/// Deletes an API endpoint; deliveries still queued for it become dead letters.
#[utoipa::path(delete, path = "/admin/v1/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Deleted"), Problems))]
pub(crate) async fn delete(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    api.deployment()
        .endpoints()
        .delete(&id)
        .await
        .map_err(endpoint_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Enables an endpoint, whoever manages it: after a 410, or after an operator disabled it.
#[utoipa::path(post, path = "/admin/v1/webhooks/endpoints/{id}/enable", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, body = EndpointDoc), Problems))]
pub(crate) async fn enable(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    answered(api.deployment().endpoints().enable(&id).await)
}

/// `POST /admin/v1/webhooks/endpoints/{id}/rotate-secret`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotation {
    /// How long the old secret keeps signing beside the new one, 0 to 2592000 (default 86400).
    #[schema(minimum = 0, maximum = 2_592_000)]
    overlap_seconds: Option<u64>,
}

/// A new signing secret, shown this once; both sign every delivery until the overlap ends.
#[utoipa::path(post, path = "/admin/v1/webhooks/endpoints/{id}/rotate-secret", tag = "webhooks",
    request_body = Rotation,
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, body = SecretAndEndpoint), Problems))]
pub(crate) async fn rotate_secret(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
    Body(rotation): Body<Rotation>,
) -> Result<Response, AdminError> {
    let overlap = rotation.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECONDS);
    if overlap > MAX_OVERLAP_SECONDS {
        return Err(AdminError::invalid(format!(
            "overlap_seconds is at most {MAX_OVERLAP_SECONDS} (30 days)"
        )));
    }
    let (endpoint, secret) = api
        .deployment()
        .endpoints()
        .rotate_secret(&id, std::time::Duration::from_secs(overlap))
        .await
        .map_err(endpoint_error)?;
    let target = target(&endpoint);
    let answer = SecretAndEndpoint {
        secret: secret.expose(),
        endpoint,
    };
    Ok(target.on(axum::Json(answer)))
}

/// An endpoint as the answer, audited under its project; a refusal as its problem.
fn answered(result: Result<EndpointView, EndpointError>) -> Result<Response, AdminError> {
    let endpoint = result.map_err(endpoint_error)?;
    Ok(target(&endpoint).on(axum::Json(endpoint)))
}

/// The project an endpoint's calls are audited under.
fn target(endpoint: &EndpointView) -> Target {
    endpoint
        .project
        .as_deref()
        .map(Target::project)
        .unwrap_or_default()
}

fn endpoint_error(error: EndpointError) -> AdminError {
    let detail = error.to_string();
    match error {
        EndpointError::NotFound(_) => AdminError::not_found("unknown_endpoint", detail),
        EndpointError::OwnedBy { owner, id } => {
            AdminError::owned_by(&format!("webhook endpoint `{id}`"), owner)
        }
        EndpointError::InvalidUrl(_) | EndpointError::Invalid(_) => AdminError::invalid(detail),
        EndpointError::NoSecretKey => AdminError::conflict("no_secret_key", detail),
        EndpointError::Conflict(_) => AdminError::conflict("concurrent_change", detail),
        EndpointError::Store(e) => AdminError::unavailable(&e),
    }
}
