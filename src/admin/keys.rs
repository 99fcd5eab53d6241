//! `/admin/v1/keys`: list, create, show, update, rotate and revoke API keys.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::AdminApi;
use super::call::Target;
use super::extract::{Body, Path, Query};
use super::key_view::{
    EnvironmentName, KeyView, NewKeyView, PreviousKey, RotatedKeyView, record_of,
};
use super::page::{Page, page};
use super::problem::{AdminError, Problems};
use super::values::{
    double_option, limit_value, new_id, no_randomness, record_id, timestamp, window_value,
};
use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::key::{ApiKey, KeyRecord, KeyStore};
use crate::limit::WindowName;
use crate::store::RecordOwner;

/// The longest grace a rotation may give the old key: 30 days.
const MAX_GRACE_SECONDS: u64 = 30 * 86_400;

/// `GET /admin/v1/keys`'s filters and page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeyFilter {
    /// Only this project's keys.
    project: Option<String>,
    /// Only keys of this environment.
    environment: Option<EnvironmentName>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Key records, sorted by id, with their usage.
#[utoipa::path(get, path = "/admin/v1/keys", tag = "keys", params(KeyFilter),
    responses((status = 200, body = Page<KeyView>), Problems))]
pub(crate) async fn list(
    State(api): State<AdminApi>,
    Query(filter): Query<KeyFilter>,
) -> Result<axum::Json<Page<KeyView>>, AdminError> {
    let keys = api.deployment().keys();
    let mut records = keys.owned_records(RecordOwner::Config).await?;
    records.extend(keys.owned_records(RecordOwner::Api).await?);
    records.retain(|r| {
        filter.project.as_deref().is_none_or(|p| *r.project == *p)
            && filter
                .environment
                .is_none_or(|e| r.environment == Environment::from(e))
    });
    records.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    records.dedup_by(|a, b| a.id == b.id);
    let records = page(records, |r| &r.id, filter.cursor.as_deref(), filter.limit)?;
    let mut items = Vec::with_capacity(records.items.len());
    for record in records.items {
        let usage = keys.usage(&record.id).await?;
        items.push(KeyView::new(&record, usage, api.now()));
    }
    Ok(axum::Json(Page {
        items,
        next_cursor: records.next_cursor,
    }))
}

/// `POST /admin/v1/keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    /// The project, one with a plan.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    project: String,
    /// `development` (an `msk_test_` key) or `production` (`msk_live_`).
    environment: EnvironmentName,
    /// The public id; `key_` and 24 random hex digits when left out.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    id: Option<String>,
    /// Requests per second; no limit when left out.
    #[schema(minimum = 1)]
    rps: Option<u32>,
    /// Requests per minute; no limit when left out.
    #[schema(minimum = 1)]
    rpm: Option<u32>,
    /// The per-second rate's window, a duration from `1s` to `1h` such as `4s`; the
    /// deployment's default (`[limits]`, else 1 s) when left out.
    #[schema(example = "4s")]
    rps_window: Option<String>,
    /// The per-minute rate's window, a duration from `1m` to `24h` such as `10m`; the
    /// deployment's default (`[limits]`, else 60 s) when left out.
    #[schema(example = "10m")]
    rpm_window: Option<String>,
    /// RFC 3339; the key is refused from then on. In the future.
    expires_at: Option<String>,
}

/// Creates an API-owned key. The key itself is in this answer and in no other, ever.
#[utoipa::path(post, path = "/admin/v1/keys", tag = "keys", request_body = NewKey,
    responses((status = 201, body = NewKeyView), Problems))]
pub(crate) async fn create(
    State(api): State<AdminApi>,
    Body(new): Body<NewKey>,
) -> Result<Response, AdminError> {
    let now = api.now();
    let environment = Environment::from(new.environment);
    api.check_environment(environment)?;
    let project = record_id("project", &new.project)?;
    if api.deployment().plans().get(project).is_none() {
        return Err(AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_project",
            format!("project `{project}` has no plan: create it first"),
        ));
    }
    let id = match &new.id {
        Some(id) => record_id("id", id)?.to_owned(),
        None => new_id("key_")?,
    };
    let expires_at = future_instant(new.expires_at.as_deref(), now)?;
    let key = ApiKey::generate(environment).map_err(|_| no_randomness())?;
    let mut record = KeyRecord::new(id.as_str(), key.hash(), project, environment)
        .with_limits(limit_value("rps", new.rps)?, limit_value("rpm", new.rpm)?)
        .with_windows(
            window_value(WindowName::Rps, new.rps_window.as_deref())?,
            window_value(WindowName::Rpm, new.rpm_window.as_deref())?,
        );
    record.expires_at = expires_at;
    api.deployment().keys().insert(record.clone(), now).await?;
    let view = NewKeyView {
        key: key.expose_secret().to_owned(),
        record: KeyView::new(&record, Default::default(), now),
    };
    Ok(Target::key(&id, project).on((StatusCode::CREATED, axum::Json(view))))
}

/// One key record with its usage.
#[utoipa::path(get, path = "/admin/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = KeyView), Problems))]
pub(crate) async fn show(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let record = record_of(&api, &id).await?;
    let usage = api.deployment().keys().usage(&record.id).await?;
    let view = KeyView::new(&record, usage, api.now());
    Ok(Target::key(&record.id, &record.project).on(axum::Json(view)))
}

/// `PATCH /admin/v1/keys/{id}`: each field left out stays; `null` removes a limit or the expiry,
/// and puts a window back to the deployment's default.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyPatch {
    /// Requests per second; `null` for no limit.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>, minimum = 1)]
    rps: Option<Option<u32>>,
    /// Requests per minute; `null` for no limit.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>, minimum = 1)]
    rpm: Option<Option<u32>>,
    /// The per-second rate's window, `1s` to `1h`; `null` for the deployment's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "4s")]
    rps_window: Option<Option<String>>,
    /// The per-minute rate's window, `1m` to `24h`; `null` for the deployment's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "10m")]
    rpm_window: Option<Option<String>>,
    /// RFC 3339, in the future; `null` for no expiry.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Option<String>>,
}

/// Changes an API-owned key's limits, windows or expiry.
#[utoipa::path(patch, path = "/admin/v1/keys/{id}", tag = "keys", request_body = KeyPatch,
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = KeyView), Problems))]
pub(crate) async fn update(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
    Body(patch): Body<KeyPatch>,
) -> Result<Response, AdminError> {
    let now = api.now();
    let mut record = live_api_record(&api, &id, now).await?;
    if let Some(rps) = patch.rps {
        record.rps = limit_value("rps", rps)?;
    }
    if let Some(rpm) = patch.rpm {
        record.rpm = limit_value("rpm", rpm)?;
    }
    if let Some(window) = patch.rps_window {
        record.rps_window = window_value(WindowName::Rps, window.as_deref())?;
    }
    if let Some(window) = patch.rpm_window {
        record.rpm_window = window_value(WindowName::Rpm, window.as_deref())?;
    }
    if let Some(expires_at) = patch.expires_at {
        record.expires_at = future_instant(expires_at.as_deref(), now)?;
    }
    let keys = api.deployment().keys();
    keys.upsert(record.clone(), now).await?;
    let usage = keys.usage(&record.id).await?;
    let view = KeyView::new(&record, usage, now);
    Ok(Target::key(&record.id, &record.project).on(axum::Json(view)))
}

/// `POST /admin/v1/keys/{id}/rotate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotation {
    /// How long the old key keeps working, 0 to 2592000 (30 days).
    #[schema(minimum = 0, maximum = 2_592_000)]
    grace_seconds: u64,
    /// The new key's id; `key_` and 24 random hex digits when left out.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    id: Option<String>,
}

/// A new key with the old one's project, environment, limits and windows; the old key works
/// until the grace ends, then is refused as expired.
#[utoipa::path(post, path = "/admin/v1/keys/{id}/rotate", tag = "keys", request_body = Rotation,
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 201, body = RotatedKeyView), Problems))]
pub(crate) async fn rotate(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
    Body(rotation): Body<Rotation>,
) -> Result<Response, AdminError> {
    let now = api.now();
    if rotation.grace_seconds > MAX_GRACE_SECONDS {
        return Err(AdminError::invalid(format!(
            "grace_seconds is at most {MAX_GRACE_SECONDS} (30 days)"
        )));
    }
    let mut old = live_api_record(&api, &id, now).await?;
    let new_id = match &rotation.id {
        Some(id) => record_id("id", id)?.to_owned(),
        None => new_id("key_")?,
    };
    let key = ApiKey::generate(old.environment).map_err(|_| no_randomness())?;
    let record = KeyRecord::new(new_id.as_str(), key.hash(), &*old.project, old.environment)
        .with_limits(old.rps, old.rpm)
        .with_windows(old.rps_window, old.rpm_window);
    let keys = api.deployment().keys();
    keys.insert(record.clone(), now).await?;
    let grace_ends = now.saturating_add(std::time::Duration::from_secs(rotation.grace_seconds));
    old.expires_at = Some(old.expires_at.map_or(grace_ends, |at| at.min(grace_ends)));
    if let Err(error) = keys.upsert(old.clone(), now).await {
        // The old key could not be given its end: take the new one back rather than leave two
        // keys where the operator asked for one.
        let _ = keys.revoke(&record.id, now).await;
        return Err(error.into());
    }
    let view = RotatedKeyView {
        key: key.expose_secret().to_owned(),
        record: KeyView::new(&record, Default::default(), now),
        previous: PreviousKey {
            id: old.id.to_string(),
            expires_at: old.expires_at.unwrap_or(grace_ends).to_rfc3339(),
        },
    };
    // The event names the key rotated (the path's), and the new one in its detail.
    let target = Target::key(&old.id, &old.project).noting(format!("new_key={new_id}"));
    Ok(target.on((StatusCode::CREATED, axum::Json(view))))
}

/// Revokes a key, whoever manages it: refused from now on, for good (its id and hash are
/// tombstoned). Revoking a revoked key answers its record again.
#[utoipa::path(post, path = "/admin/v1/keys/{id}/revoke", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = KeyView), Problems))]
pub(crate) async fn revoke(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let now = api.now();
    let mut record = record_of(&api, &id).await?;
    let keys = api.deployment().keys();
    if record.revoked_at.is_none() {
        keys.revoke(&record.id, now).await?;
        record = record_of(&api, &id).await?;
    }
    let usage = keys.usage(&record.id).await?;
    let view = KeyView::new(&record, usage, now);
    Ok(Target::key(&record.id, &record.project).on(axum::Json(view)))
}

/// The API-owned, unrevoked record with this id: what update and rotate may change.
async fn live_api_record(
    api: &AdminApi,
    id: &str,
    now: Timestamp,
) -> Result<KeyRecord, AdminError> {
    let record = record_of(api, id).await?;
    if record.owner != RecordOwner::Api {
        return Err(AdminError::owned_by(&format!("key `{id}`"), record.owner));
    }
    if record.is_revoked(now) {
        return Err(AdminError::conflict(
            "revoked_key",
            format!("key `{id}` is revoked, for good"),
        ));
    }
    Ok(record)
}

/// An RFC 3339 instant after `now`, or none.
fn future_instant(text: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>, AdminError> {
    let Some(text) = text else { return Ok(None) };
    let at = timestamp("expires_at", text)?;
    if at <= now {
        return Err(AdminError::invalid("expires_at must be in the future"));
    }
    Ok(Some(at))
}
