//! `/admin/v1/projects`: plans, who manages them, and the month's quota tile.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminApi;
use super::call::Target;
use super::extract::{Body, Path, Query};
use super::key_view::OwnerName;
use super::page::{Page, page};
use super::problem::{AdminError, Problems};
use super::values::record_id;
use crate::deployment::PlanError;
use crate::quota::{AlertThresholds, Month, Operation, Plan};

/// A plan as the API shows and takes it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanBody {
    /// Adds per calendar month; 0 allows none (every add answers an empty result).
    adds_per_month: u64,
    /// Queries per calendar month; 0 allows none.
    queries_per_month: u64,
    /// Percentages from 1 to 100 at which an alert fires; `[75, 90, 100]` when left out,
    /// `[]` for none.
    #[schema(value_type = Option<Vec<u8>>)]
    alert_thresholds: Option<Vec<u8>>,
}

impl PlanBody {
    fn of(plan: &Plan) -> Self {
        PlanBody {
            adds_per_month: plan.adds_per_month,
            queries_per_month: plan.queries_per_month,
            alert_thresholds: Some(plan.alert_thresholds.iter().collect()),
        }
    }

    fn into_plan(self) -> Result<Plan, AdminError> {
        let alert_thresholds = match self.alert_thresholds {
            None => AlertThresholds::standard(),
            Some(percents) => {
                if let Some(bad) = percents.iter().find(|p| !(1..=100).contains(*p)) {
                    return Err(AdminError::invalid(format!(
                        "alert_thresholds: {bad} is not a percentage from 1 to 100"
                    )));
                }
                AlertThresholds::new(percents)
            }
        };
        Ok(Plan {
            adds_per_month: self.adds_per_month,
            queries_per_month: self.queries_per_month,
            alert_thresholds,
        })
    }
}

/// One operation's use this month.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TileEntry {
    /// Units used.
    used: u64,
    /// The plan's limit.
    limit: u64,
    /// The thresholds this use has reached, whose alerts have fired.
    alerts_fired: Vec<u8>,
}

/// The quota tile: each operation's use in the month.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Tile {
    /// Adds.
    adds: TileEntry,
    /// Queries.
    queries: TileEntry,
}

/// A project: its plan, who manages it, and the month's tile.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProjectView {
    /// The project's id.
    id: String,
    /// Who manages the plan.
    owner: OwnerName,
    /// The plan in force.
    plan: PlanBody,
    /// The month of the tile, `YYYY-MM` (UTC).
    month: String,
    /// The month's use against the plan.
    tile: Tile,
}

/// The month asked for, and the page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ProjectQuery {
    /// `YYYY-MM`; this month (UTC) when left out.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Every project with a plan, sorted by id.
#[utoipa::path(get, path = "/admin/v1/projects", tag = "projects", params(ProjectQuery),
    responses((status = 200, body = Page<ProjectView>), Problems))]
pub(crate) async fn list(
    State(api): State<AdminApi>,
    Query(query): Query<ProjectQuery>,
) -> Result<axum::Json<Page<ProjectView>>, AdminError> {
    let month = month(&api, query.month.as_deref())?;
    let plans = api.deployment().plans();
    let mut projects: Vec<String> = plans.iter().map(|(id, _, _)| id.to_owned()).collect();
    projects.sort_unstable();
    let projects = page(projects, |p| p, query.cursor.as_deref(), query.limit)?;
    let mut items = Vec::with_capacity(projects.items.len());
    for project in &projects.items {
        if let Some(view) = view(&api, project, month).await? {
            items.push(view);
        }
    }
    Ok(axum::Json(Page {
        items,
        next_cursor: projects.next_cursor,
    }))
}

/// One project.
#[utoipa::path(get, path = "/admin/v1/projects/{id}", tag = "projects",
    params(("id" = String, Path, description = "The project's id"), ProjectQuery),
    responses((status = 200, body = ProjectView), Problems))]
pub(crate) async fn show(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
    Query(query): Query<ProjectQuery>,
) -> Result<Response, AdminError> {
    let month = month(&api, query.month.as_deref())?;
    let view = view(&api, &id, month).await?.ok_or_else(|| unknown(&id))?;
    Ok(Target::project(&id).on(axum::Json(view)))
}

/// `POST /admin/v1/projects`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProject {
    /// The project's id.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    id: String,
    /// Adds per calendar month.
    adds_per_month: u64,
    /// Queries per calendar month.
    queries_per_month: u64,
    /// Percentages from 1 to 100; `[75, 90, 100]` when left out.
    #[schema(value_type = Option<Vec<u8>>)]
    alert_thresholds: Option<Vec<u8>>,
}

/// Creates a project the API manages, with its plan, in force at once on every instance.
#[utoipa::path(post, path = "/admin/v1/projects", tag = "projects", request_body = NewProject,
    responses((status = 201, body = ProjectView), Problems))]
pub(crate) async fn create(
    State(api): State<AdminApi>,
    Body(new): Body<NewProject>,
) -> Result<Response, AdminError> {
    let id = record_id("id", &new.id)?.to_owned();
    let plan = PlanBody {
        adds_per_month: new.adds_per_month,
        queries_per_month: new.queries_per_month,
        alert_thresholds: new.alert_thresholds,
    }
    .into_plan()?;
    api.deployment()
        .create_project(&id, plan)
        .await
        .map_err(|e| plan_error(&id, e))?;
    let month = Month::of(api.now());
    let view = view(&api, &id, month).await?.ok_or_else(|| unknown(&id))?;
    Ok(Target::project(&id).on((StatusCode::CREATED, axum::Json(view))))
}

/// Replaces the plan of a project the API manages; the next metered request reads it.
#[utoipa::path(put, path = "/admin/v1/projects/{id}/plan", tag = "projects", request_body = PlanBody,
    params(("id" = String, Path, description = "The project's id")),
    responses((status = 200, body = ProjectView), Problems))]
pub(crate) async fn set_plan(
    State(api): State<AdminApi>,
    Path(id): Path<String>,
    Body(plan): Body<PlanBody>,
) -> Result<Response, AdminError> {
    let plan = plan.into_plan()?;
    if api.deployment().plans().get(&id).is_none() {
        return Err(unknown(&id));
    }
    api.deployment()
        .set_plan(&id, plan)
        .await
        .map_err(|e| plan_error(&id, e))?;
    let month = Month::of(api.now());
    let view = view(&api, &id, month).await?.ok_or_else(|| unknown(&id))?;
    Ok(Target::project(&id).on(axum::Json(view)))
}

/// The project's view in `month`; `None` when it has no plan.
async fn view(api: &AdminApi, id: &str, month: Month) -> Result<Option<ProjectView>, AdminError> {
    let plans = api.deployment().plans();
    let (Some(plan), Some(owner)) = (plans.get(id), plans.owner(id)) else {
        return Ok(None);
    };
    let entry = |operation: Operation| async move {
        let usage = api
            .deployment()
            .quota_usage(id, operation, month)
            .await
            .map_err(|e| AdminError::unavailable(&e))?;
        let (used, limit) = usage.map_or((0, plan.limit(operation)), |u| (u.used, u.limit));
        let alerts_fired = plan
            .alert_thresholds
            .reached_by(used, limit)
            .iter()
            .collect();
        Ok::<_, AdminError>(TileEntry {
            used,
            limit,
            alerts_fired,
        })
    };
    let tile = Tile {
        adds: entry(Operation::Add).await?,
        queries: entry(Operation::Query).await?,
    };
    Ok(Some(ProjectView {
        id: id.to_owned(),
        owner: owner.into(),
        plan: PlanBody::of(plan),
        month: month.to_string(),
        tile,
    }))
}

/// `YYYY-MM`, or this month.
fn month(api: &AdminApi, text: Option<&str>) -> Result<Month, AdminError> {
    let Some(text) = text else {
        return Ok(Month::of(api.now()));
    };
    let parsed = text.split_once('-').and_then(|(year, month)| {
        let four_digits = year.len() == 4 && month.len() == 2;
        let year: i32 = year.parse().ok()?;
        let month: u8 = month.parse().ok()?;
        four_digits.then_some(())?;
        Month::new(year, month)
    });
    parsed.ok_or_else(|| AdminError::bad_request("month is YYYY-MM"))
}

fn unknown(id: &str) -> AdminError {
    AdminError::not_found("unknown_project", format!("no project `{id}` has a plan"))
}

fn plan_error(id: &str, error: PlanError) -> AdminError {
    match error {
        PlanError::OwnedBy { owner, .. } => AdminError::owned_by(&format!("project `{id}`"), owner),
        PlanError::Exists { .. } => AdminError::conflict(
            "project_exists",
            format!("project `{id}` exists already: change its plan with PUT"),
        ),
        PlanError::InvalidProject => {
            AdminError::invalid(format!("id: {}", crate::config::RECORD_ID_RULE))
        }
        PlanError::Store(e) => AdminError::unavailable(&e),
    }
}
