//! The operator CLI of the admin API (`memorysync keys|projects|webhooks ...`, `memorysync
//! audit query|verify-remote`): each command is one call (or one walk through a list's pages)
//! to an admin listener, printed as a table or, with `--json`, as the API's JSON.
//!
//! The admin token is read from the environment variable `--token-env` names (default
//! `MEMORYSYNC_ADMIN_TOKEN`), never from an argument: arguments end up in shell histories and
//! process listings.
//!
//! Exit codes: 0 success; 1 the API answered a problem (`error: <code>: <detail>` on standard
//! error), could not be reached (the message says the URL), or the token's variable is unset
//! or malformed; 2 the command line is wrong (clap's errors, a value the CLI checks, no admin
//! URL).
//!
//! # Decisions
//! - Commands build an [`ApiRequest`] and a [`View`] before anything is read or sent, so that
//!   a bad value is refused (exit 2) before the token is looked at, and unit tests check each
//!   command's request without a server.
//! - `--json` prints the answer as the API gave it; for a list walked over several pages, one
//!   answer of the same shape holding every item read.
//! - Values are checked here only as far as the request needs (ids in paths, numbers in
//!   bodies); the API checks the rest and its problem is printed.

pub(crate) mod audit;
mod client;
mod failure;
pub(crate) mod keys;
pub(crate) mod projects;
mod render;
mod request;
mod table;
mod target;
mod values;
mod webhook_columns;
pub(crate) mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

use client::AdminClient;
pub(crate) use failure::Failure;
pub(crate) use render::View;
pub(crate) use request::ApiRequest;
use target::AdminUrl;

use crate::https::Roots;

/// How to reach the admin API and how to print its answers: every command takes these.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct Remote {
    /// The admin listener: `http://HOST:PORT` or `https://HOST:PORT`, with an optional base
    /// path. Default: the variable MEMORYSYNC_ADMIN_URL.
    #[arg(long, value_name = "URL", global = true)]
    pub(crate) admin_url: Option<String>,
    /// The environment variable that holds the admin token (`msa_...`). The token is read
    /// from there and only from there: no argument takes a token.
    #[arg(
        long,
        value_name = "VAR",
        default_value = "MEMORYSYNC_ADMIN_TOKEN",
        global = true
    )]
    pub(crate) token_env: String,
    /// A PEM file of certificates to trust beside the Mozilla roots: an admin listener's own.
    #[arg(long, value_name = "PEM", global = true)]
    pub(crate) ca_file: Option<PathBuf>,
    /// Prints the API's JSON answer instead of a table.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// What one command does: its request, whether it is a list (and how much of it to read), and
/// how its answer is shown.
#[derive(Debug)]
pub(crate) struct Call {
    /// The request (for a list, its first page's, without cursor or limit).
    pub(crate) request: ApiRequest,
    /// `Some` for a list: `None` inside reads every page, `Some(n)` the first `n` items.
    pub(crate) list: Option<Option<u32>>,
    /// How the answer is printed.
    pub(crate) view: View,
}

impl Call {
    /// A call answering one object.
    pub(crate) fn one(request: ApiRequest, view: View) -> Self {
        Call {
            request,
            list: None,
            view,
        }
    }

    /// A list read to its end, or to `limit` items.
    pub(crate) fn list(request: ApiRequest, limit: Option<u32>, view: View) -> Self {
        Call {
            request,
            list: Some(limit),
            view,
        }
    }
}

/// `--limit N`, checked.
pub(crate) fn list_limit(limit: Option<&str>) -> Result<Option<u32>, Failure> {
    limit.map(|n| values::positive("--limit", n)).transpose()
}

/// Runs the command `call` built (or the failure of building it) against the admin API of
/// `remote`, prints the answer, and gives the exit code.
pub(crate) fn run(remote: &Remote, call: Result<Call, Failure>) -> ExitCode {
    let env = |name: &str| std::env::var_os(name);
    let outcome = call.and_then(|call| {
        let url = AdminUrl::resolve(remote.admin_url.as_deref(), env)?;
        let token = target::token(&remote.token_env, env)?;
        let roots = match &remote.ca_file {
            Some(path) => Roots::MozillaAnd(target::ca_file(path)?),
            None => Roots::Mozilla,
        };
        if url.plaintext_off_loopback {
            eprintln!(
                "warning: the admin URL is http:// to a host that is not loopback: the admin \
                 token crosses the network in clear"
            );
        }
        let client = AdminClient::new(url, &token, roots)?;
        let answer = fetch(&client, &call)?;
        Ok((call, answer))
    });
    match outcome {
        Ok((call, answer)) => {
            let shown = render::show(&call.view, &answer, remote.json);
            print!("{}", shown.text);
            if let Some(error) = &shown.error {
                eprintln!("{error}");
            }
            if shown.failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(failure) => {
            eprintln!("{failure}");
            failure.exit_code()
        }
    }
}

/// The answer to `call`, on a runtime of this thread.
fn fetch(client: &AdminClient, call: &Call) -> Result<Value, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("the async runtime did not start: {e}")))?;
    runtime.block_on(async {
        match call.list {
            Some(limit) => client.list(&call.request, limit).await,
            None => client.send(&call.request).await,
        }
    })
}

#[cfg(test)]
mod testing;
