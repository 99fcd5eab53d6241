//! Why a command did not succeed, and the exit code and message of each reason.
//!
//! No message quotes what was given as a value or read from the token's variable: a key or
//! token pasted into the wrong place stays off the terminal.

use std::process::ExitCode;

/// A command that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The command line is wrong (a value the CLI checks, no admin URL): exit 2, like clap's
    /// own errors.
    Usage(String),
    /// The API answered a problem: exit 1, `error: <code>: <detail>`.
    Api {
        /// The problem's `code`.
        code: String,
        /// The problem's `detail`.
        detail: String,
    },
    /// The admin API could not be reached at `url`: exit 1.
    Unreachable {
        /// The admin URL, as given (it never carries credentials).
        url: String,
        /// What went wrong: the connection's or TLS's error.
        why: String,
    },
    /// Anything else: the token's variable, the CA file, an answer that is not JSON. Exit 1.
    Other(String),
}

impl Failure {
    /// The exit code: 2 for the command line, 1 for the rest.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(message) | Failure::Other(message) => write!(f, "error: {message}"),
            Failure::Api { code, detail } => write!(f, "error: {code}: {detail}"),
            Failure::Unreachable { url, why } => {
                write!(f, "error: cannot reach the admin API at {url}: {why}")
            }
        }
    }
}

/// A usage failure: `message` names the option and not its value.
pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}
