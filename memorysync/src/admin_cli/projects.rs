//! `memorysync projects`: plans and this month's quota use through `/admin/v1/projects`.

use std::process::ExitCode;

use http::Method;
use serde_json::{Value, json};

use super::failure::Failure;
use super::table::{Column, field};
use super::values::{id, thresholds, whole};
use super::{ApiRequest, Call, Remote, View, list_limit};

/// Projects: their plans and this month's use.
#[derive(Debug, clap::Args)]
pub(crate) struct ProjectsArgs {
    #[command(flatten)]
    pub(crate) remote: Remote,
    #[command(subcommand)]
    pub(crate) command: ProjectsCommand,
}

/// A plan's numbers, as `create` and `set-plan` take them.
#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// Adds a calendar month (UTC); 0 allows none.
    #[arg(long, value_name = "N")]
    adds_per_month: String,
    /// Queries a calendar month (UTC); 0 allows none.
    #[arg(long, value_name = "N")]
    queries_per_month: String,
    /// Usage alerts, in percent of each quota, e.g. 75,90,100 (the default when left out).
    #[arg(long, value_name = "P,P,...")]
    alert_thresholds: Option<String>,
}

/// The projects' subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ProjectsCommand {
    /// Lists projects: owner, plan and this month's use of each quota.
    List {
        /// At most this many projects; default: all of them.
        #[arg(long, value_name = "N")]
        limit: Option<String>,
    },
    /// Shows one project: its plan and this month's use.
    Show {
        /// The project's id.
        id: String,
    },
    /// Creates a project the admin API manages, with its plan.
    Create {
        /// The project's id.
        id: String,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Replaces a project's plan (one the admin API manages); in force at once.
    SetPlan {
        /// The project's id.
        id: String,
        #[command(flatten)]
        plan: PlanArgs,
    },
}

/// Runs a `projects` command.
pub(crate) fn run(args: ProjectsArgs) -> ExitCode {
    super::run(&args.remote, args.command.call())
}

impl PlanArgs {
    /// The plan's JSON fields; the thresholds only when given.
    fn body(&self) -> Result<Value, Failure> {
        let mut body = json!({
            "adds_per_month": whole("--adds-per-month", &self.adds_per_month)?,
            "queries_per_month": whole("--queries-per-month", &self.queries_per_month)?,
        });
        if let Some(given) = &self.alert_thresholds {
            body["alert_thresholds"] = thresholds("--alert-thresholds", given)?.into();
        }
        Ok(body)
    }
}

impl ProjectsCommand {
    /// The call this command makes, its values checked.
    pub(crate) fn call(&self) -> Result<Call, Failure> {
        Ok(match self {
            ProjectsCommand::List { limit } => Call::list(
                ApiRequest::get(&["projects"]),
                list_limit(limit.as_deref())?,
                View::Table(PROJECT_TABLE),
            ),
            ProjectsCommand::Show { id: project } => Call::one(
                ApiRequest::get(&["projects", &id("ID", project)?]),
                View::Record(PROJECT_RECORD),
            ),
            ProjectsCommand::Create { id: project, plan } => {
                let mut body = json!({ "id": id("ID", project)? });
                if let (Value::Object(fields), Value::Object(plan)) = (&mut body, plan.body()?) {
                    fields.extend(plan);
                }
                Call::one(
                    ApiRequest::post(&["projects"], body),
                    View::Record(PROJECT_RECORD),
                )
            }
            ProjectsCommand::SetPlan { id: project, plan } => Call::one(
                ApiRequest::new(Method::PUT, &["projects", &id("ID", project)?, "plan"])
                    .body(plan.body()?),
                View::Record(PROJECT_RECORD),
            ),
        })
    }
}

/// `used/limit` of one quota of this month's tile.
fn used(item: &Value, quota: &str) -> String {
    let limit = match field(item, &[&format!("/tile/{quota}/limit")]).as_str() {
        "-" => field(item, &[&format!("/plan/{quota}_per_month")]),
        limit => limit.to_owned(),
    };
    format!("{}/{limit}", field(item, &[&format!("/tile/{quota}/used")]))
}

/// The columns of `projects list`.
pub(crate) const PROJECT_TABLE: &[Column] = &[
    Column::at("ID", &["/id"]),
    Column::at("OWNER", &["/owner"]),
    Column::at("MONTH", &["/month"]),
    Column::with("ADDS", |item| used(item, "adds")),
    Column::with("QUERIES", |item| used(item, "queries")),
    Column::at("THRESHOLDS", &["/plan/alert_thresholds"]),
    Column::at("ADDS_ALERTS", &["/tile/adds/alerts_fired"]),
    Column::at("QUERIES_ALERTS", &["/tile/queries/alerts_fired"]),
];

/// The fields of one project.
pub(crate) const PROJECT_RECORD: &[Column] = &[
    Column::at("ID", &["/id"]),
    Column::at("OWNER", &["/owner"]),
    Column::at(
        "ADDS_PER_MONTH",
        &["/plan/adds_per_month", "/adds_per_month"],
    ),
    Column::at(
        "QUERIES_PER_MONTH",
        &["/plan/queries_per_month", "/queries_per_month"],
    ),
    Column::at(
        "THRESHOLDS",
        &["/plan/alert_thresholds", "/alert_thresholds"],
    ),
    Column::at("MONTH", &["/month"]),
    Column::with("ADDS_USED", |item| used(item, "adds")),
    Column::at("ADDS_ALERTS", &["/tile/adds/alerts_fired"]),
    Column::with("QUERIES_USED", |item| used(item, "queries")),
    Column::at("QUERIES_ALERTS", &["/tile/queries/alerts_fired"]),
];

#[cfg(test)]
#[path = "projects_tests.rs"]
mod tests;
