//! The console's audit pages: the log newest first under the API's filters (time, key, project,
//! outcome), a page at a time, and the chain's verification with its head.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::guard::ConsoleUser;
use super::page::{ConsoleError, Filters, Frame, answer, field, html, next_page, page_query};
use crate::admin::AdminApi;
use crate::admin::audit;
use crate::admin::extract::Query;
use crate::audit::Outcome;

/// Lines a page shows.
const LINES: u32 = 100;

/// The filter form, as the page's query string carries it; empty fields filter nothing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditFilters {
    from: Option<String>,
    to: Option<String>,
    key_id: Option<String>,
    project: Option<String>,
    outcome: Option<String>,
    cursor: Option<String>,
}

impl AuditFilters {
    /// The filters without the cursor, each with its value ("" when empty), for the form.
    fn fields(&self) -> [(&'static str, &Option<String>); 5] {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("key_id", &self.key_id),
            ("project", &self.project),
            ("outcome", &self.outcome),
        ]
    }

    fn value(&self, name: &str) -> &str {
        field(&self.fields(), name)
    }
}

/// One line of the log, as the page shows it.
#[derive(Debug, Deserialize)]
struct Line {
    seq: u64,
    ts: String,
    method: String,
    path: String,
    status: u16,
    outcome: String,
    key_id: Option<String>,
    project: Option<String>,
    client_ip: Option<String>,
    detail: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Lines {
    items: Vec<Line>,
    next_cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    frame: Frame,
    filters: &'a AuditFilters,
    outcomes: &'a [&'a str],
    lines: Vec<Line>,
    /// The next page's address, with the same filters.
    older: Option<String>,
}

/// `GET /admin/audit`: the newest lines that pass the filters.
pub(crate) async fn page(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
    Filters(filters): Filters<AuditFilters>,
) -> Result<Response, ConsoleError> {
    let query = Query(page_query(
        &filters.fields(),
        filters.cursor.as_deref(),
        LINES,
    )?);
    let (lines, _) = answer::<Lines>(audit::query(State(api), query).await).await?;
    let older = lines
        .next_cursor
        .map(|cursor| next_page("/admin/audit", &filters.fields(), &cursor));
    html(&AuditPage {
        frame: Frame::of(&user),
        filters: &filters,
        outcomes: &Outcome::ALL.map(Outcome::as_str),
        lines: lines.items,
        older,
    })
}

/// The head of the chain.
#[derive(Debug, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// What the verification found, as the page shows it.
#[derive(Debug, Deserialize)]
struct Verified {
    ok: bool,
    lines: u64,
    head: Option<Head>,
    checkpoint: Option<Value>,
    torn_tail: Option<Value>,
    #[serde(default)]
    recoveries: Vec<Value>,
    first_break: Option<Value>,
}

#[derive(Template)]
#[template(path = "console/audit_verify.html")]
struct VerifyPage {
    frame: Frame,
    report: Verified,
}

/// `GET /admin/audit/verify`: reads the whole chain and shows whether it holds, and its head.
/// Its own page, asked for, because it reads every line.
pub(crate) async fn verify(
    State(api): State<AdminApi>,
    Extension(user): Extension<ConsoleUser>,
) -> Result<Response, ConsoleError> {
    let (report, _) = answer::<Verified>(audit::verify(State(api)).await).await?;
    html(&VerifyPage {
        frame: Frame::of(&user),
        report,
    })
}
