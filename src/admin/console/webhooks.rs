//! The console's webhooks page: endpoints with their state, dead letters with a replay, and the
//! forms that enable an endpoint and replay a letter, through the admin API's handlers.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::guard::ConsoleUser;
use super::page::{
    ConsoleError, Filters, Frame, answer, field, html, input, next_page, page_query,
};
use super::views::Listed;
use crate::admin::AdminApi;
use crate::admin::deliveries::{AttemptPage, AttemptView};
use crate::admin::extract::{Path, Query};
use crate::admin::{deliveries, endpoints};

/// An endpoint as the page shows it.
#[derive(Debug, Deserialize)]
struct Endpoint {
    id: String,
    owner: String,
    projects: Vec<String>,
    url: String,
    events: Vec<String>,
    state: String,
}

/// A dead letter as the page shows it.
#[derive(Debug, Deserialize)]
struct Letter {
    id: String,
    endpoint: String,
    event_type: String,
    attempts: u32,
    reason: String,
    dead_at: String,
}

/// The dead letters' page of the API.
#[derive(Debug, Deserialize)]
struct Letters {
    count: u64,
    items: Vec<Letter>,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct Webhooks {
    frame: Frame,
    endpoints: Vec<Endpoint>,
    letters: Letters,
}

/// `GET /admin/webhooks`: every endpoint, and the newest 500 dead letters with their count.
pub(crate) async fn page(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
) -> Result<Response, ConsoleError> {
    let query = Query(input(json!({ "limit": 500 }))?);
    let (listed, _) =
        answer::<Listed<Endpoint>>(endpoints::list(State(api.clone()), query).await).await?;
    let query = Query(input(json!({ "limit": 500 }))?);
    let (letters, _) = answer::<Letters>(deliveries::dead_letters(State(api), query).await).await?;
    html(&Webhooks {
        frame: Frame::of(&user),
        endpoints: listed.items,
        letters,
    })
}

/// `POST /admin/webhooks/endpoints/{id}/enable`: deliveries go out again.
pub(crate) async fn enable(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let (_, target) = answer::<Value>(endpoints::enable(State(api), Path(id)).await).await?;
    Ok(target.on(Redirect::to("/admin/webhooks").into_response()))
}

/// `POST /admin/webhooks/dead-letters/{id}/replay`: the letter is queued again, due now.
pub(crate) async fn replay(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let (_, target) = answer::<Value>(deliveries::replay_one(State(api), Path(id)).await).await?;
    Ok(target.on(Redirect::to("/admin/webhooks").into_response()))
}

/// The attempts log's filters, as the page's query string carries them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AttemptFilters {
    endpoint: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

impl AttemptFilters {
    fn fields(&self) -> [(&'static str, &Option<String>); 2] {
        [("endpoint", &self.endpoint), ("status", &self.status)]
    }

    fn value(&self, name: &str) -> &str {
        field(&self.fields(), name)
    }
}

#[derive(Template)]
#[template(path = "console/attempts.html")]
struct AttemptsPage<'a> {
    frame: Frame,
    filters: &'a AttemptFilters,
    attempts: Vec<AttemptView>,
    older: Option<String>,
}

/// `GET /admin/webhooks/attempts`: the newest delivery attempts, by endpoint and status.
pub(crate) async fn attempts(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
    Filters(filters): Filters<AttemptFilters>,
) -> Result<Response, ConsoleError> {
    let query = Query(page_query(
        &filters.fields(),
        filters.cursor.as_deref(),
        100,
    )?);
    let (page, _) = answer::<AttemptPage>(deliveries::attempts(State(api), query).await).await?;
    let older = page
        .next_cursor
        .map(|cursor| next_page("/admin/webhooks/attempts", &filters.fields(), &cursor));
    html(&AttemptsPage {
        frame: Frame::of(&user),
        filters: &filters,
        attempts: page.items,
        older,
    })
}
