//! Command lines parsed as `main` parses them, for the unit tests of each command group.

use clap::Parser;
use http::Method;
use serde_json::Value;

use super::render::show;
use super::{Call, Failure, Remote};
use crate::audit::AuditCommand;
use crate::{Cli, Command};

/// `memorysync args...` parsed: the remote flags and the call the command builds.
pub(super) fn parse(args: &[&str]) -> (Remote, Result<Call, Failure>) {
    let line = std::iter::once("memorysync").chain(args.iter().copied());
    let cli = Cli::try_parse_from(line).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    match cli.command {
        Command::Keys(keys) => (keys.remote, keys.command.call()),
        Command::Projects(projects) => (projects.remote, projects.command.call()),
        Command::Webhooks(webhooks) => (webhooks.remote, webhooks.command.call()),
        Command::Audit(AuditCommand::Query(query)) => (query.remote.clone(), query.call()),
        Command::Audit(AuditCommand::VerifyRemote(verify)) => {
            (verify.remote.clone(), Ok(verify.call()))
        }
        other => panic!("not an admin API command: {other:?}"),
    }
}

/// The call of a command line that must build one.
pub(super) fn call(args: &[&str]) -> Call {
    parse(args).1.unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The usage message of a command line whose values are refused.
pub(super) fn refused(args: &[&str]) -> String {
    match parse(args).1 {
        Err(Failure::Usage(message)) => message,
        other => panic!("{args:?}: {other:?}"),
    }
}

/// Whether clap itself refuses the command line.
pub(super) fn clap_refuses(args: &[&str]) -> bool {
    let line = std::iter::once("memorysync").chain(args.iter().copied());
    Cli::try_parse_from(line).is_err()
}

/// The method, path with query, and body of a call.
pub(super) fn sent(call: &Call) -> (Method, String, Option<Value>) {
    let request = &call.request;
    (
        request.method.clone(),
        request.path_and_query(),
        request.body.clone(),
    )
}

/// What a call prints for `answer`, without `--json`.
pub(super) fn printed(call: &Call, answer: &Value) -> String {
    show(&call.view, answer, false).text
}
