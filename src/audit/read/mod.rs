//! Reading an audit log back: queries newest first, paginated with an opaque cursor, and a
//! verification of the whole chain, on every log a sink writes: JSON Lines segments, a Redis
//! stream, the in-memory log.
//!
//! [`AuditSource`] is the log; a deployment hands out its own
//! ([`Deployment::audit_source`](crate::deployment::Deployment::audit_source)), and any sink
//! says which it writes ([`AuditSink::source`](crate::audit::AuditSink::source)).
//! [`AuditSource::query`] answers an [`AuditPage`] for an [`AuditQuery`];
//! [`AuditSource::verify`] a [`VerifyReport`], serialisable as the answer of an admin API.
//! The example and the decisions are on [`AuditSource`].

mod backward;
mod cursor;
mod error;
mod jsonl;
mod memory;
mod query;
#[cfg(feature = "redis")]
mod redis;
mod report;
mod source;
mod verifier;

pub use cursor::AuditCursor;
pub use error::AuditReadError;
pub use query::{AuditPage, AuditQuery, FILING_SLACK, SCAN_LIMIT};
pub use report::{
    CheckpointReport, FirstBreak, HeadReport, LinePlace, Recovery, TornTail, VerifyReport,
};
pub use source::{AuditSource, AuditSourceKind};
pub use verifier::ChainVerifier;
