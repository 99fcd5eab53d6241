//! `memorysync audit`: the audit log, read offline.

mod source;
mod verify;

use std::process::ExitCode;

/// The audit log's subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// Checks an audit log's hash chain offline: a JSON Lines directory, or the Redis stream
    /// of an instance. Exits 0 when intact, 1 at a break, 2 when the log cannot be read.
    Verify(verify::VerifyArgs),
}

pub(crate) fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => verify::run(args),
    }
}
