//! `memorysync webhooks`: endpoints, the delivery attempts' log and the dead letters through
//! `/admin/v1/webhooks/`.

use std::process::ExitCode;

use http::Method;
use serde_json::{Map, Value, json};

use super::failure::{Failure, usage};
use super::values::{id, instant};
use super::webhook_columns::{
    ATTEMPT_TABLE, DEAD_LETTER_TABLE, ENDPOINT_RECORD, ENDPOINT_TABLE, dead_letter_count,
    new_secret,
};
use super::{ApiRequest, Call, Remote, View, list_limit};

/// Webhooks: endpoints, delivery attempts, dead letters and their replay.
#[derive(Debug, clap::Args)]
pub(crate) struct WebhooksArgs {
    #[command(flatten)]
    pub(crate) remote: Remote,
    #[command(subcommand)]
    pub(crate) command: WebhooksCommand,
}

/// The webhooks' subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum WebhooksCommand {
    /// Webhook endpoints: where events are delivered.
    #[command(subcommand)]
    Endpoints(EndpointsCommand),
    /// The delivery attempts' log, newest first.
    ///
    /// Each attempt's time, endpoint, event, status, latency and error.
    Attempts {
        /// Only attempts to this endpoint.
        #[arg(long, value_name = "ID")]
        endpoint: Option<String>,
        /// Only attempts with this status, as the API names them.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// At most this many attempts; default: all of them.
        #[arg(long, value_name = "N")]
        limit: Option<String>,
    },
    /// Lists the dead letters and their count.
    ///
    /// A dead letter is a delivery that ran out of retries.
    DeadLetters {
        /// At most this many; default: all of them.
        #[arg(long, value_name = "N")]
        limit: Option<String>,
    },
    /// Queues dead letters for delivery again: one by id, or every one since a time.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "since"])))]
    Replay {
        /// The dead letter's id.
        id: Option<String>,
        /// Every dead letter since this RFC 3339 time.
        #[arg(long, value_name = "RFC3339")]
        since: Option<String>,
    },
}

/// The endpoints' subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum EndpointsCommand {
    /// Lists the endpoints.
    List {
        /// At most this many endpoints; default: all of them.
        #[arg(long, value_name = "N")]
        limit: Option<String>,
    },
    /// Shows one endpoint (never its secret).
    Show {
        /// The endpoint's id.
        id: String,
    },
    /// Creates an endpoint and prints its signing secret, once.
    ///
    /// The secret (`whsec_...`) comes alone on the first line (shown once: keep it secret),
    /// then a blank line and the endpoint. With --json, the API's answer.
    Create {
        /// Where deliveries go: `https://...` (production needs https and a public address).
        #[arg(long, value_name = "URL")]
        url: String,
        /// An event type it takes; repeat or comma-separate, e.g. quota.threshold,quota.exhausted.
        #[arg(
            long = "event",
            value_name = "EVENT",
            required = true,
            value_delimiter = ','
        )]
        events: Vec<String>,
        /// The project whose events it takes; default: every project's (operator-wide).
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
    },
    /// Changes an endpoint's URL or events, or disables it.
    Update {
        /// The endpoint's id.
        id: String,
        /// A new URL.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// The new event types (all of them); repeat or comma-separate.
        #[arg(long = "event", value_name = "EVENT", value_delimiter = ',')]
        events: Vec<String>,
        /// Stops deliveries to it until `webhooks endpoints enable`.
        #[arg(long)]
        disable: bool,
    },
    /// Deletes an endpoint the admin API manages.
    ///
    /// Deliveries still queued for it become dead letters.
    Delete {
        /// The endpoint's id.
        id: String,
    },
    /// Enables an endpoint again.
    ///
    /// For an endpoint an operator disabled, or its receiver with a 410.
    Enable {
        /// The endpoint's id.
        id: String,
    },
    /// Gives an endpoint a new signing secret and prints it, once.
    ///
    /// The secret comes alone on the first line (shown once: keep it secret), then a blank
    /// line and the endpoint. The old secret signs too for a while, so receivers can switch.
    RotateSecret {
        /// The endpoint's id.
        id: String,
    },
}

/// Runs a `webhooks` command.
pub(crate) fn run(args: WebhooksArgs) -> ExitCode {
    super::run(&args.remote, args.command.call())
}

impl WebhooksCommand {
    /// The call this command makes, its values checked.
    pub(crate) fn call(&self) -> Result<Call, Failure> {
        Ok(match self {
            WebhooksCommand::Endpoints(command) => return command.call(),
            WebhooksCommand::Attempts {
                endpoint,
                status,
                limit,
            } => {
                let endpoint = endpoint
                    .as_deref()
                    .map(|e| id("--endpoint", e))
                    .transpose()?;
                let request = ApiRequest::get(&["webhooks", "attempts"])
                    .query("endpoint", endpoint)
                    .query("status", status.clone());
                Call::list(
                    request,
                    list_limit(limit.as_deref())?,
                    View::Table(ATTEMPT_TABLE),
                )
            }
            WebhooksCommand::DeadLetters { limit } => Call::list(
                ApiRequest::get(&["webhooks", "dead-letters"]),
                list_limit(limit.as_deref())?,
                View::TableUnder(dead_letter_count, DEAD_LETTER_TABLE),
            ),
            WebhooksCommand::Replay {
                id: Some(letter), ..
            } => {
                let letter = id("ID", letter)?;
                Call::one(
                    ApiRequest::post(&["webhooks", "dead-letters", &letter, "replay"], json!({})),
                    View::Fields(format!("dead letter {letter} queued again")),
                )
            }
            WebhooksCommand::Replay { id: None, since } => {
                let since = since
                    .as_deref()
                    .map(|s| instant("--since", s))
                    .transpose()?;
                let request = ApiRequest::post(&["webhooks", "dead-letters", "replay"], json!({}))
                    .query("since", since);
                Call::one(request, View::Fields("dead letters queued again".into()))
            }
        })
    }
}

impl EndpointsCommand {
    /// The call this command makes, its values checked.
    pub(crate) fn call(&self) -> Result<Call, Failure> {
        let path = |endpoint: &str, rest: &[&str]| -> Result<ApiRequest, Failure> {
            let endpoint = id("ID", endpoint)?;
            let mut segments = vec!["webhooks", "endpoints", endpoint.as_str()];
            segments.extend_from_slice(rest);
            Ok(ApiRequest::new(Method::POST, &segments))
        };
        Ok(match self {
            EndpointsCommand::List { limit } => Call::list(
                ApiRequest::get(&["webhooks", "endpoints"]),
                list_limit(limit.as_deref())?,
                View::Table(ENDPOINT_TABLE),
            ),
            EndpointsCommand::Show { id: endpoint } => Call::one(
                ApiRequest {
                    method: Method::GET,
                    ..path(endpoint, &[])?
                },
                View::Record(ENDPOINT_RECORD),
            ),
            EndpointsCommand::Create {
                url,
                events,
                project,
            } => {
                let mut body = json!({ "url": url, "events": events });
                if let Some(project) = project {
                    body["project"] = id("--project", project)?.into();
                }
                Call::one(
                    ApiRequest::post(&["webhooks", "endpoints"], body),
                    View::Secret(&["/secret"], new_secret),
                )
            }
            EndpointsCommand::Update {
                id: endpoint,
                url,
                events,
                disable,
            } => {
                let mut patch = Map::new();
                if let Some(url) = url {
                    patch.insert("url".into(), url.clone().into());
                }
                if !events.is_empty() {
                    patch.insert("events".into(), events.clone().into());
                }
                if *disable {
                    patch.insert("enabled".into(), false.into());
                }
                if patch.is_empty() {
                    return Err(usage(
                        "webhooks endpoints update needs --url, --event or --disable",
                    ));
                }
                let request = ApiRequest {
                    method: Method::PATCH,
                    ..path(endpoint, &[])?
                };
                Call::one(
                    request.body(Value::Object(patch)),
                    View::Record(ENDPOINT_RECORD),
                )
            }
            EndpointsCommand::Delete { id: endpoint } => Call::one(
                ApiRequest {
                    method: Method::DELETE,
                    ..path(endpoint, &[])?
                },
                View::Done(format!("endpoint {endpoint} deleted"), ENDPOINT_RECORD),
            ),
            EndpointsCommand::Enable { id: endpoint } => Call::one(
                path(endpoint, &["enable"])?.body(json!({})),
                View::Record(ENDPOINT_RECORD),
            ),
            EndpointsCommand::RotateSecret { id: endpoint } => Call::one(
                path(endpoint, &["rotate-secret"])?.body(json!({})),
                View::Secret(&["/secret"], new_secret),
            ),
        })
    }
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
