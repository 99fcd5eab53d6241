//! The console's pages (GETs): overview, keys, projects and the revoke confirmation, each read
//! through the admin API's own handlers.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::guard::ConsoleUser;
use super::page::{ConsoleError, Frame, answer, html, input};
use super::views::{DeadLetterCount, KeyRow, Listed, ProjectCard, ProjectRow};
use crate::admin::AdminApi;
use crate::admin::extract::{Path, Query};
use crate::admin::{deliveries, keys, projects};
use crate::health::CheckStatus;
use crate::key::{KeyStore, KeyStoreError};
use crate::store::RecordOwner;

/// The most items a page lists (the admin API's largest page).
const PAGE: u32 = 500;

#[derive(Template)]
#[template(path = "console/overview.html")]
struct Overview {
    frame: Frame,
    /// Each health check's name, and why it is degraded (`None`: ok).
    checks: Vec<(String, Option<String>)>,
    dead_letters: DeadLetters,
    /// How many keys there are.
    keys: String,
    projects: Vec<ProjectCard>,
}

/// The dead letters' count, as far as it could be read.
#[derive(Debug)]
enum DeadLetters {
    Counted(u64),
    /// The deployment delivers no webhooks.
    Off,
    /// The store did not answer: the error's code.
    Unreadable(&'static str),
}

/// `GET /admin/`: dead letters, keys and every project's tile.
pub(crate) async fn overview(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
) -> Result<Response, ConsoleError> {
    let query = Query(input(json!({ "limit": 1 }))?);
    let dead_letters =
        match answer::<DeadLetterCount>(deliveries::dead_letters(State(api.clone()), query).await)
            .await
        {
            Ok((page, _)) => DeadLetters::Counted(page.count),
            Err(ConsoleError(error)) if error.code == "webhooks_unavailable" => DeadLetters::Off,
            // The store failed: the page says so, and the rest of it is still worth showing.
            Err(ConsoleError(error)) => DeadLetters::Unreadable(error.code),
        };
    // The checks `/health` runs, each shown (the public route names only the failing ones).
    let checks = api
        .deployment()
        .stages()
        .health
        .check_each()
        .await
        .into_iter()
        .map(|(name, status)| match status {
            CheckStatus::Ok => (name, None),
            CheckStatus::Degraded(why) => (name, Some(why.into_owned())),
        })
        .collect();
    html(&Overview {
        frame: Frame::of(&user),
        checks,
        dead_letters,
        keys: key_count(&api).await?,
        projects: project_cards(&api).await?,
    })
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct Keys {
    frame: Frame,
    keys: Vec<KeyRow>,
    projects: Vec<String>,
}

/// `GET /admin/keys`: every key with its usage, and the forms that change them.
pub(crate) async fn keys(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
) -> Result<Response, ConsoleError> {
    let projects = project_cards(&api).await?;
    html(&Keys {
        frame: Frame::of(&user),
        keys: key_rows(&api).await?,
        projects: projects.into_iter().map(|p| p.row.id).collect(),
    })
}

#[derive(Template)]
#[template(path = "console/revoke.html")]
struct ConfirmRevoke {
    frame: Frame,
    key: KeyRow,
}

/// `GET /admin/keys/{id}/revoke`: what a revocation would end, and the button that does it.
pub(crate) async fn confirm_revoke(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let (key, target) = answer::<KeyRow>(keys::show(State(api), Path(id)).await).await?;
    Ok(target.on(html(&ConfirmRevoke {
        frame: Frame::of(&user),
        key,
    })?))
}

#[derive(Template)]
#[template(path = "console/projects.html")]
struct Projects {
    frame: Frame,
    projects: Vec<ProjectCard>,
}

/// `GET /admin/projects`: plans and tiles; plan forms for the projects the API manages.
pub(crate) async fn projects(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
) -> Result<Response, ConsoleError> {
    html(&Projects {
        frame: Frame::of(&user),
        projects: project_cards(&api).await?,
    })
}

/// How many keys there are: the records of both owners, counted by id, without reading each
/// key's usage as the list does.
async fn key_count(api: &AdminApi) -> Result<String, ConsoleError> {
    let keys = api.deployment().keys();
    let failed = |error: KeyStoreError| ConsoleError(error.into());
    let mut ids: Vec<Arc<str>> = keys
        .owned_records(RecordOwner::Config)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|record| record.id)
        .collect();
    let api_owned = keys.owned_records(RecordOwner::Api).await.map_err(failed)?;
    ids.extend(api_owned.into_iter().map(|record| record.id));
    ids.sort_unstable();
    ids.dedup();
    Ok(ids.len().to_string())
}

async fn key_rows(api: &AdminApi) -> Result<Vec<KeyRow>, ConsoleError> {
    let query = Query(input(json!({ "limit": PAGE }))?);
    let (listed, _) = answer::<Listed<KeyRow>>(keys::list(State(api.clone()), query).await).await?;
    Ok(listed.items)
}

async fn project_cards(api: &AdminApi) -> Result<Vec<ProjectCard>, ConsoleError> {
    let query = Query(input(json!({ "limit": PAGE }))?);
    let (listed, _) =
        answer::<Listed<ProjectRow>>(projects::list(State(api.clone()), query).await).await?;
    Ok(listed.items.into_iter().map(ProjectCard::from).collect())
}
