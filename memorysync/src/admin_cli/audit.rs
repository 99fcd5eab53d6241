//! `memorysync audit query` and `memorysync audit verify-remote`: the audit log of a running
//! deployment, through `/admin/v1/audit`.

use std::fmt::Write as _;
use std::process::ExitCode;

use memorysync_pipeline::audit::Outcome;
use serde_json::Value;

use super::failure::{Failure, usage};
use super::table::{Column, field, plain, printable};
use super::values::{id, instant};
use super::{ApiRequest, Call, Remote, View, list_limit};

/// Reads audit events from a running deployment, newest first.
#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) remote: Remote,
    /// Events at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    from: Option<String>,
    /// Events before this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    to: Option<String>,
    /// Only this key's events.
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// Only this project's events.
    #[arg(long, value_name = "PROJECT")]
    project: Option<String>,
    /// Only events with this outcome: allowed, unauthenticated, forbidden, rate_limited,
    /// degraded or error.
    #[arg(long, value_name = "OUTCOME")]
    outcome: Option<String>,
    /// At most this many events; default: every one that matches.
    #[arg(long, value_name = "N")]
    limit: Option<String>,
}

/// Has a running deployment check its audit log's hash chain. Exits 1 when it is not intact.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyRemoteArgs {
    #[command(flatten)]
    pub(crate) remote: Remote,
}

/// Runs `audit query`.
pub(crate) fn query(args: QueryArgs) -> ExitCode {
    super::run(&args.remote, args.call())
}

/// Runs `audit verify-remote`.
pub(crate) fn verify_remote(args: VerifyRemoteArgs) -> ExitCode {
    super::run(&args.remote, Ok(args.call()))
}

impl QueryArgs {
    /// The call `audit query` makes, its values checked.
    pub(crate) fn call(&self) -> Result<Call, Failure> {
        let time =
            |option, text: &Option<String>| text.as_deref().map(|t| instant(option, t)).transpose();
        let outcome = match self.outcome.as_deref() {
            // The library's own words for the outcomes, parsed as the log writes them.
            Some(word) if word.parse::<Outcome>().is_err() => {
                let words = Outcome::ALL.map(Outcome::as_str);
                return Err(usage(format!(
                    "--outcome must be one of {}",
                    words.join(", ")
                )));
            }
            other => other,
        };
        let request = ApiRequest::get(&["audit"])
            .query("from", time("--from", &self.from)?)
            .query("to", time("--to", &self.to)?)
            .query(
                "key_id",
                self.key_id
                    .as_deref()
                    .map(|k| id("--key-id", k))
                    .transpose()?,
            )
            .query(
                "project",
                self.project
                    .as_deref()
                    .map(|p| id("--project", p))
                    .transpose()?,
            )
            .query("outcome", outcome);
        Ok(Call::list(
            request,
            list_limit(self.limit.as_deref())?,
            View::Table(EVENT_TABLE),
        ))
    }
}

impl VerifyRemoteArgs {
    /// The call `audit verify-remote` makes.
    pub(crate) fn call(&self) -> Call {
        Call::one(
            ApiRequest::get(&["audit", "verify"]),
            View::Report(verify_report, |answer| {
                answer.get("ok") != Some(&Value::Bool(true))
            }),
        )
    }
}

/// The columns of `audit query`.
pub(crate) const EVENT_TABLE: &[Column] = &[
    Column::at("TS", &["/ts", "/event/ts"]),
    Column::at("SEQ", &["/seq", "/event/seq"]),
    Column::at("METHOD", &["/method", "/event/method"]),
    Column::at("PATH", &["/path", "/event/path"]),
    Column::at("STATUS", &["/status", "/event/status"]),
    Column::at("OUTCOME", &["/outcome", "/event/outcome"]),
    Column::at("KEY_ID", &["/key_id", "/event/key_id"]),
    Column::at("PROJECT", &["/project", "/event/project"]),
    Column::at("CLIENT_IP", &["/client_ip", "/event/client_ip"]),
    Column::at("LATENCY_US", &["/latency_us", "/event/latency_us"]),
    Column::at("DETAIL", &["/detail", "/event/detail"]),
];

/// `ok`, `lines`, the head and the first break, then whatever else the report holds.
fn verify_report(answer: &Value) -> String {
    let ok = answer.get("ok") == Some(&Value::Bool(true));
    let mut out = format!(
        "ok: {}\nlines: {}\n",
        if ok { "yes" } else { "no" },
        field(answer, &["/lines"])
    );
    let head = match answer.get("head") {
        Some(Value::Object(_)) => format!(
            "seq {}, sha256 {}",
            field(answer, &["/head/seq"]),
            field(answer, &["/head/hash"])
        ),
        _ => "none (no lines)".to_owned(),
    };
    let _ = writeln!(out, "head: {head}");
    let _ = writeln!(out, "first break: {}", compact(answer.get("first_break")));
    if let Value::Object(report) = answer {
        for (name, value) in report {
            if !matches!(name.as_str(), "ok" | "lines" | "head" | "first_break") {
                let _ = writeln!(out, "{}: {}", name.replace('_', " "), compact(Some(value)));
            }
        }
    }
    out
}

/// A value on one line: `none` for null or absent, strings and lists plain, objects as JSON.
fn compact(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::Array(list)) if list.is_empty() => "none".to_owned(),
        Some(object @ Value::Object(_)) => object.to_string(),
        Some(other) => plain(other),
    };
    printable(&text)
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
