//! What reading an audit log back can fail with.

use std::{fmt, io};

use crate::clock::Timestamp;

/// Why a query or a verification of an audit log could not be answered.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuditReadError {
    /// The query's `from` is after its `to`.
    FromAfterTo {
        /// The query's `from`.
        from: Timestamp,
        /// The query's `to`.
        to: Timestamp,
    },
    /// The cursor is not one this source handed out: not a cursor at all, one of another kind
    /// of log, or one that points at no line of this log.
    InvalidCursor(&'static str),
    /// The log is written to a sink this crate cannot read back (one of the application's own).
    Unreadable,
    /// The log could not be read: a file, the directory, or Redis.
    Io {
        /// What was being read, e.g. `audit dir /var/log/memorysync` or `Redis`. Never a URL.
        context: String,
        /// The error.
        source: io::Error,
    },
}

impl AuditReadError {
    /// A short machine-readable word for the error, e.g. for a problem+json `code`.
    pub fn code(&self) -> &'static str {
        match self {
            AuditReadError::FromAfterTo { .. } => "from_after_to",
            AuditReadError::InvalidCursor(_) => "invalid_cursor",
            AuditReadError::Unreadable => "audit_log_unreadable",
            AuditReadError::Io { .. } => "audit_log_unavailable",
        }
    }

    /// An I/O error while reading `context`.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        AuditReadError::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for AuditReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditReadError::FromAfterTo { from, to } => {
                write!(f, "from ({from}) is after to ({to})")
            }
            AuditReadError::InvalidCursor(why) => write!(f, "invalid cursor: {why}"),
            AuditReadError::Unreadable => f.write_str(
                "the audit log is written to a sink of the application's own, which cannot be read back",
            ),
            AuditReadError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for AuditReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditReadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
