//! Reading an audit log back: queries newest first, paginated with an opaque cursor, and a
//! verification of the whole chain, on every log a sink writes: JSON Lines segments, a Redis
//! stream, the in-memory log.
//!
//! [`AuditSource`] is the log; a deployment hands out its own
//! ([`Deployment::audit_source`](crate::deployment::Deployment::audit_source)), and any sink
//! says which it writes ([`AuditSink::source`](crate::audit::AuditSink::source)).
//! [`AuditSource::query`] answers an [`AuditPage`] for an [`AuditQuery`];
//! [`AuditSource::verify`] a [`VerifyReport`], serialisable as the answer of an admin API.
//!
//! # Example
//! ```
//! use memorysync_pipeline::audit::{
//!     AuditLog, AuditLogConfig, AuditQuery, AuditRecordLayer, MemoryAuditSink, Outcome,
//! };
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap();
//! let service = AuditRecordLayer::new(log.clone()).layer(service_fn(|_: http::Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//! }));
//! for path in ["/v1/memories/1", "/v1/memories/2", "/v1/memories/3"] {
//!     let request = http::Request::get(path).body(String::new()).unwrap();
//!     assert_eq!(service.clone().oneshot(request).await.unwrap().status(), 200);
//! }
//! log.flush().await;
//!
//! let source = log.source();
//! let query = AuditQuery { outcome: Some(Outcome::Allowed), limit: 2, ..AuditQuery::new() };
//! let page = source.query(&query).unwrap();
//! assert_eq!(page.items[0]["path"], "/v1/memories/3");
//! assert_eq!(page.items.len(), 2);
//! let cursor = page.next_cursor.unwrap().to_string(); // opaque, for a URL
//! let next = AuditQuery { cursor: Some(cursor.parse().unwrap()), ..query };
//! assert_eq!(source.query(&next).unwrap().items[0]["path"], "/v1/memories/1");
//!
//! let report = source.verify().unwrap();
//! assert!(report.ok);
//! assert_eq!((report.lines, report.head.map(|h| h.seq)), (3, Some(3)));
//! # });
//! ```
//!
//! # Decisions
//!
//! - Newest first means the chain's order, `seq` descending. Events are chained as their
//!   calls finish and stamped as they arrive, so `ts` may step back a little between lines.
//! - `from` and `to` select by the event's `ts`, `from <= ts < to`. The scan stops at lines
//!   filed before `from` (they were stamped before it too): for JSON Lines, at a segment whose
//!   whole day is before `from`'s. It starts at lines filed up to `to` plus [`FILING_SLACK`]
//!   (a day): a call that took longer than a day to be chained is not found by a `to` before
//!   its filing time.
//! - One call examines at most [`SCAN_LIMIT`] lines. When a filter matches few of them, the
//!   page is short, or empty, with a `next_cursor` to go on; `None` means nothing older can
//!   match. A full page has a cursor even when nothing is left: the next page is empty.
//! - A cursor is the place of the last line a page examined (a segment's day and a byte offset,
//!   a stream entry id, a `seq`); the next page reads only older lines, so lines appended
//!   between pages are neither given nor make a line come twice. A cursor whose segment was
//!   removed by retention goes on with what is older. A JSON Lines cursor that does not point
//!   at the start of a line is refused as [`AuditReadError::InvalidCursor`].
//! - A line that is not an audit line (not JSON, no `seq`) is in no page; `verify` reports it.
//!   Bytes after the newest segment's last newline (a line being written) are not yet a line.
//! - The in-memory log is read under its lock (the writer waits for one page); it holds the
//!   lines its capacity keeps, and no checkpoint.
//! - A Redis source reads on a connection of its own, never the writer's. Redis errors say the
//!   kind of failure, never the URL.

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
