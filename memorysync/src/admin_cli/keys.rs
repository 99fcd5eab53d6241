//! `memorysync keys`: API keys through `/admin/v1/keys`.

use std::process::ExitCode;

use http::Method;
use memorysync_pipeline::limit::WindowName;
use serde_json::{Map, Value, json};

use super::failure::{Failure, usage};
use super::table::{Column, field, record};
use super::values::{
    grace, id, instant, instant_or_none, positive, positive_or_none, window, window_or_none,
};
use super::{ApiRequest, Call, Remote, View, list_limit};

/// API keys: list, create, show, update, rotate, revoke.
#[derive(Debug, clap::Args)]
pub(crate) struct KeysArgs {
    #[command(flatten)]
    pub(crate) remote: Remote,
    #[command(subcommand)]
    pub(crate) command: KeysCommand,
}

/// The keys' subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Lists key records with their usage, sorted by id. A window shown as `-` is the
    /// deployment's default.
    List {
        /// Only this project's keys.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Only keys of this environment.
        #[arg(long, value_name = "development|production")]
        environment: Option<String>,
        /// At most this many keys; default: all of them.
        #[arg(long, value_name = "N")]
        limit: Option<String>,
    },
    /// Creates a key and prints it, once.
    ///
    /// The key comes alone on the first line (shown once: keep it secret), then a blank line
    /// and its record. With --json, the API's answer (the key in its `key` field).
    Create {
        /// The project, one with a plan.
        #[arg(long, value_name = "PROJECT")]
        project: String,
        /// `development` (an `msk_test_` key) or `production` (`msk_live_`).
        #[arg(long, value_name = "development|production")]
        environment: String,
        /// The key's public id; default: one the API makes.
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// Requests per second, at least 1; default: no limit.
        #[arg(long, value_name = "N")]
        rps: Option<String>,
        /// Requests per minute, at least 1; default: no limit.
        #[arg(long, value_name = "N")]
        rpm: Option<String>,
        /// The per-second rate's window: a duration such as 4s, whole seconds from 1s to 1h;
        /// default: the deployment's (`[limits] rps_window`, else 1s).
        #[arg(long, value_name = "DURATION")]
        rps_window: Option<String>,
        /// The per-minute rate's window: a duration such as 10m, whole seconds from 1m to 24h;
        /// default: the deployment's (`[limits] rpm_window`, else 60s).
        #[arg(long, value_name = "DURATION")]
        rpm_window: Option<String>,
        /// When the key stops working: an RFC 3339 time in the future.
        #[arg(long, value_name = "RFC3339")]
        expires: Option<String>,
    },
    /// Shows one key record with its usage.
    Show {
        /// The key's id.
        id: String,
    },
    /// Changes a key's limits, windows or expiry (a key the admin API manages).
    Update {
        /// The key's id.
        id: String,
        /// Requests per second, or `none` for no limit.
        #[arg(long, value_name = "N|none")]
        rps: Option<String>,
        /// Requests per minute, or `none` for no limit.
        #[arg(long, value_name = "N|none")]
        rpm: Option<String>,
        /// The per-second rate's window (1s to 1h), or `none` for the deployment's default.
        #[arg(long, value_name = "DURATION|none")]
        rps_window: Option<String>,
        /// The per-minute rate's window (1m to 24h), or `none` for the deployment's default.
        #[arg(long, value_name = "DURATION|none")]
        rpm_window: Option<String>,
        /// An RFC 3339 time in the future, or `none` for no expiry.
        #[arg(long, value_name = "RFC3339|none")]
        expires: Option<String>,
    },
    /// Replaces a key with a new one; the old one works for a grace.
    ///
    /// The new key has the old one's project, environment, limits and windows. It comes alone
    /// on the first line (shown once: keep it secret), then a blank line and its record.
    Rotate {
        /// The id of the key to replace.
        id: String,
        /// How long the old key keeps working: 0, 90s, 15m, 24h, 7d; at most 30 days.
        #[arg(long, value_name = "DURATION")]
        grace: String,
        /// The new key's id; default: one the API makes.
        #[arg(long, value_name = "ID")]
        new_id: Option<String>,
    },
    /// Revokes a key, for good.
    ///
    /// The key is refused from now on, on every instance, and can never come back.
    Revoke {
        /// The key's id.
        id: String,
    },
}

/// Runs a `keys` command.
pub(crate) fn run(args: KeysArgs) -> ExitCode {
    super::run(&args.remote, args.command.call())
}

impl KeysCommand {
    /// The call this command makes, its values checked.
    pub(crate) fn call(&self) -> Result<Call, Failure> {
        Ok(match self {
            KeysCommand::List {
                project,
                environment,
                limit,
            } => {
                let request = ApiRequest::get(&["keys"])
                    .query(
                        "project",
                        project.as_deref().map(|p| id("--project", p)).transpose()?,
                    )
                    .query(
                        "environment",
                        environment.as_deref().map(self::environment).transpose()?,
                    );
                Call::list(
                    request,
                    list_limit(limit.as_deref())?,
                    View::Table(KEY_TABLE),
                )
            }
            KeysCommand::Create {
                project,
                environment,
                id: key_id,
                rps,
                rpm,
                rps_window,
                rpm_window,
                expires,
            } => {
                let mut body = Map::new();
                body.insert("project".into(), id("--project", project)?.into());
                body.insert("environment".into(), self::environment(environment)?.into());
                if let Some(key_id) = key_id {
                    body.insert("id".into(), id("--id", key_id)?.into());
                }
                for (name, option, value) in [("rps", "--rps", rps), ("rpm", "--rpm", rpm)] {
                    if let Some(value) = value {
                        body.insert(name.into(), positive(option, value)?.into());
                    }
                }
                for (name, option, text) in windows(rps_window, rpm_window) {
                    if let Some(text) = text {
                        body.insert(name.field().into(), window(option, name, text)?.into());
                    }
                }
                if let Some(at) = expires {
                    body.insert("expires_at".into(), instant("--expires", at)?.into());
                }
                let request = ApiRequest::post(&["keys"], Value::Object(body));
                Call::one(request, View::Secret(&["/key"], new_key))
            }
            KeysCommand::Show { id: key_id } => Call::one(
                ApiRequest::get(&["keys", &id("ID", key_id)?]),
                View::Record(KEY_RECORD),
            ),
            KeysCommand::Update {
                id: key_id,
                rps,
                rpm,
                rps_window,
                rpm_window,
                expires,
            } => {
                let mut patch = Map::new();
                for (name, option, value) in [("rps", "--rps", rps), ("rpm", "--rpm", rpm)] {
                    if let Some(value) = value {
                        patch.insert(name.into(), positive_or_none(option, value)?);
                    }
                }
                for (name, option, text) in windows(rps_window, rpm_window) {
                    if let Some(text) = text {
                        patch.insert(name.field().into(), window_or_none(option, name, text)?);
                    }
                }
                if let Some(at) = expires {
                    patch.insert("expires_at".into(), instant_or_none("--expires", at)?);
                }
                if patch.is_empty() {
                    return Err(usage(
                        "keys update needs --rps, --rpm, --rps-window, --rpm-window or --expires",
                    ));
                }
                let request = ApiRequest::new(Method::PATCH, &["keys", &id("ID", key_id)?])
                    .body(Value::Object(patch));
                Call::one(request, View::Record(KEY_RECORD))
            }
            KeysCommand::Rotate {
                id: key_id,
                grace: given,
                new_id,
            } => {
                let mut body = json!({ "grace_seconds": grace("--grace", given)? });
                if let Some(new_id) = new_id {
                    body["id"] = id("--new-id", new_id)?.into();
                }
                let request = ApiRequest::post(&["keys", &id("ID", key_id)?, "rotate"], body);
                Call::one(request, View::Secret(&["/key"], rotated_key))
            }
            KeysCommand::Revoke { id: key_id } => Call::one(
                ApiRequest::post(&["keys", &id("ID", key_id)?, "revoke"], json!({})),
                View::Record(KEY_RECORD),
            ),
        })
    }
}

/// Each window with its option and the text given for it.
fn windows<'a>(
    rps_window: &'a Option<String>,
    rpm_window: &'a Option<String>,
) -> [(WindowName, &'static str, Option<&'a str>); 2] {
    [
        (WindowName::Rps, "--rps-window", rps_window.as_deref()),
        (WindowName::Rpm, "--rpm-window", rpm_window.as_deref()),
    ]
}

/// `development` or `production`.
fn environment(text: &str) -> Result<String, Failure> {
    match text {
        "development" | "production" => Ok(text.to_owned()),
        _ => Err(usage("--environment must be development or production")),
    }
}

/// The columns of `keys list`.
pub(crate) const KEY_TABLE: &[Column] = &[
    Column::at("ID", &["/id"]),
    Column::at("PROJECT", &["/project"]),
    Column::at("ENV", &["/environment"]),
    Column::at("STATUS", &["/status"]),
    Column::at("RPS", &["/rps"]),
    Column::at("RPM", &["/rpm"]),
    Column::at("RPS_WINDOW", &["/rps_window"]),
    Column::at("RPM_WINDOW", &["/rpm_window"]),
    Column::at("REQUESTS", &["/usage/requests"]),
    Column::at("LAST_USED", &["/usage/last_used"]),
    Column::at("OWNER", &["/owner"]),
];

/// The fields of one key record.
pub(crate) const KEY_RECORD: &[Column] = &[
    Column::at("ID", &["/id"]),
    Column::at("PROJECT", &["/project"]),
    Column::at("ENVIRONMENT", &["/environment"]),
    Column::at("STATUS", &["/status"]),
    Column::at("OWNER", &["/owner"]),
    Column::at("RPS", &["/rps"]),
    Column::at("RPM", &["/rpm"]),
    Column::at("RPS_WINDOW", &["/rps_window"]),
    Column::at("RPM_WINDOW", &["/rpm_window"]),
    Column::at("EXPIRES_AT", &["/expires_at"]),
    Column::at("REVOKED_AT", &["/revoked_at"]),
    Column::at("REQUESTS", &["/usage/requests"]),
    Column::at("LAST_USED", &["/usage/last_used"]),
];

/// After a new key: its record.
fn new_key(answer: &Value) -> String {
    record(KEY_RECORD, &answer["record"])
}

/// After a rotation's new key: its record, and until when the old one works.
fn rotated_key(answer: &Value) -> String {
    format!(
        "{}\nthe previous key {} works until {}\n",
        record(KEY_RECORD, &answer["record"]),
        field(answer, &["/previous/id"]),
        field(answer, &["/previous/expires_at"]),
    )
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
