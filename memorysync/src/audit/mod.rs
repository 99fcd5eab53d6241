//! `memorysync audit`: the audit log, read offline (`verify`) or through a running
//! deployment's admin API (`query`, `verify-remote`).

mod source;
mod verify;

use std::process::ExitCode;

/// The audit log's subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// Checks an audit log's hash chain offline: a JSON Lines directory, or the Redis stream
    /// of an instance. Exits 0 when intact, 1 at a break, 2 when the log cannot be read.
    Verify(verify::VerifyArgs),
    /// Reads audit events from a running deployment through its admin API, newest first.
    Query(crate::admin_cli::audit::QueryArgs),
    /// Has a running deployment check its audit log's chain through its admin API. Exits 0
    /// when intact, 1 when not (or when the API answered an error).
    VerifyRemote(crate::admin_cli::audit::VerifyRemoteArgs),
}

pub(crate) fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => verify::run(args),
        AuditCommand::Query(args) => crate::admin_cli::audit::query(args),
        AuditCommand::VerifyRemote(args) => crate::admin_cli::audit::verify_remote(args),
    }
}
