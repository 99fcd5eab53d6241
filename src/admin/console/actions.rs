//! The console's forms (POSTs): create, rotate and revoke keys, change a plan, each done by the
//! admin API's own handler, so the checks, the ownership rule and the audit target are its.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::guard::ConsoleUser;
use super::page::{ConsoleError, Form, Frame, answer, html, input, number};
use super::views::NewKey;
use crate::admin::AdminApi;
use crate::admin::extract::{Body, Path};
use crate::admin::{keys, projects};

/// The key-creation form.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyForm {
    project: String,
    environment: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    rps: String,
    #[serde(default)]
    rpm: String,
    /// A duration such as `4s`; empty for the deployment's default.
    #[serde(default)]
    rps_window: String,
    /// A duration such as `10m`; empty for the deployment's default.
    #[serde(default)]
    rpm_window: String,
}

#[derive(Template)]
#[template(path = "console/key_made.html")]
struct KeyMade {
    frame: Frame,
    made: NewKey,
    /// The key this one replaces, when a rotation made it, with the end of its grace.
    previous: Option<(String, String)>,
}

/// `POST /admin/keys`: creates a key and shows it, this once.
pub(crate) async fn create_key(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
    Form(form): Form<KeyForm>,
) -> Result<Response, ConsoleError> {
    let mut new = Map::new();
    new.insert("project".into(), json!(form.project));
    new.insert("environment".into(), json!(form.environment));
    if !form.id.trim().is_empty() {
        new.insert("id".into(), json!(form.id.trim()));
    }
    for (name, text) in [("rps", &form.rps), ("rpm", &form.rpm)] {
        if let Some(limit) = number(name, text)? {
            new.insert(name.into(), json!(limit));
        }
    }
    // The API checks the text: a bad window is refused with its message, as from the API.
    for (name, text) in [
        ("rps_window", &form.rps_window),
        ("rpm_window", &form.rpm_window),
    ] {
        if !text.trim().is_empty() {
            new.insert(name.into(), json!(text.trim()));
        }
    }
    let new = Body(input(Value::Object(new))?);
    let (made, target) = answer::<NewKey>(keys::create(State(api), new).await).await?;
    Ok(target.on(html(&KeyMade {
        frame: Frame::of(&user),
        made,
        previous: None,
    })?))
}

/// The rotation form.
#[derive(Debug, Deserialize)]
pub(crate) struct RotateForm {
    grace_seconds: String,
}

/// A rotation's answer: the new key and the old one's end.
#[derive(Debug, Deserialize)]
struct Rotated {
    key: String,
    record: super::views::KeyRow,
    previous: Previous,
}

#[derive(Debug, Deserialize)]
struct Previous {
    id: String,
    expires_at: String,
}

/// `POST /admin/keys/{id}/rotate`: a new key, shown this once; the old one ends after the grace.
pub(crate) async fn rotate_key(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
    Path(id): Path<String>,
    Form(form): Form<RotateForm>,
) -> Result<Response, ConsoleError> {
    // An emptied field goes as `null`, which the API refuses: no grace is made up.
    let grace = number("grace_seconds", &form.grace_seconds)?;
    let rotation = Body(input(json!({ "grace_seconds": grace }))?);
    let (rotated, target) =
        answer::<Rotated>(keys::rotate(State(api), Path(id), rotation).await).await?;
    Ok(target.on(html(&KeyMade {
        frame: Frame::of(&user),
        made: NewKey {
            key: rotated.key,
            record: rotated.record,
        },
        previous: Some((rotated.previous.id, rotated.previous.expires_at)),
    })?))
}

/// `POST /admin/keys/{id}/revoke` (from the confirmation page): revokes, back to the keys.
pub(crate) async fn revoke_key(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let (_, target) = answer::<Value>(keys::revoke(State(api), Path(id)).await).await?;
    Ok(target.on(Redirect::to("/admin/keys").into_response()))
}

/// The plan form.
#[derive(Debug, Deserialize)]
pub(crate) struct PlanForm {
    adds_per_month: String,
    queries_per_month: String,
}

/// `POST /admin/projects/{id}/plan`: replaces an API-managed plan, back to the projects.
pub(crate) async fn set_plan(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
    Form(form): Form<PlanForm>,
) -> Result<Response, ConsoleError> {
    let adds = number("adds_per_month", &form.adds_per_month)?;
    let queries = number("queries_per_month", &form.queries_per_month)?;
    // The form changes the limits; the plan's alert thresholds stay as they are.
    let thresholds: Option<Vec<u8>> = api
        .deployment()
        .plans()
        .get(&id)
        .map(|plan| plan.alert_thresholds.iter().collect());
    let plan = Body(input(json!({
        // An emptied field goes as `null`, which the API refuses: never a limit of 0.
        "adds_per_month": adds,
        "queries_per_month": queries,
        "alert_thresholds": thresholds,
    }))?);
    let (_, target) = answer::<Value>(projects::set_plan(State(api), Path(id), plan).await).await?;
    Ok(target.on(Redirect::to("/admin/projects").into_response()))
}
