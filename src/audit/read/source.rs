//! Where an audit log is read back from: the log a sink writes, as its sink describes it.

use std::path::PathBuf;
#[cfg(feature = "redis")]
use std::sync::Arc;

use serde::Serialize;

use super::{AuditPage, AuditQuery, AuditReadError, VerifyReport};
use crate::audit::MemoryAuditSink;
#[cfg(feature = "redis")]
use crate::redis_store::RedisAuditSink;

/// An audit log to read back: query it newest first, or verify its chain.
///
/// A deployment hands out the one it writes
/// ([`Deployment::audit_source`](crate::deployment::Deployment::audit_source)); each sink says
/// which it is ([`AuditSink::source`](crate::audit::AuditSink::source)). Cheap to clone.
///
/// Both calls block on file or Redis I/O: from async code, use
/// [`query_async`](Self::query_async) and [`verify_async`](Self::verify_async), which run them
/// on tokio's blocking threads.
///
/// # Example
/// ```
/// use memorysync_pipeline::audit::{
///     AuditLog, AuditLogConfig, AuditQuery, AuditRecordLayer, MemoryAuditSink, Outcome,
/// };
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap();
/// let service = AuditRecordLayer::new(log.clone()).layer(service_fn(|_: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// }));
/// for path in ["/v1/memories/1", "/v1/memories/2", "/v1/memories/3"] {
///     let request = http::Request::get(path).body(String::new()).unwrap();
///     assert_eq!(service.clone().oneshot(request).await.unwrap().status(), 200);
/// }
/// log.flush().await;
///
/// let source = log.source();
/// let query = AuditQuery { outcome: Some(Outcome::Allowed), limit: 2, ..AuditQuery::new() };
/// let page = source.query(&query).unwrap();
/// assert_eq!(page.items[0]["path"], "/v1/memories/3");
/// assert_eq!(page.items.len(), 2);
/// let cursor = page.next_cursor.unwrap().to_string(); // opaque, for a URL
/// let next = AuditQuery { cursor: Some(cursor.parse().unwrap()), ..query };
/// assert_eq!(source.query(&next).unwrap().items[0]["path"], "/v1/memories/1");
///
/// let report = source.verify().unwrap();
/// assert!(report.ok);
/// assert_eq!((report.lines, report.head.map(|h| h.seq)), (3, Some(3)));
/// # });
/// ```
///
/// # Decisions
///
/// - Newest first means the chain's order, `seq` descending. Events are chained as their
///   calls finish and stamped as they arrive, so `ts` may step back a little between lines.
/// - `from` and `to` select by the event's `ts`, `from <= ts < to`. The scan stops at lines
///   filed before `from` (they were stamped before it too): for JSON Lines, at a segment whose
///   whole day is before `from`'s. It starts at lines filed up to `to` plus [`FILING_SLACK`](super::FILING_SLACK)
///   (a day): a call that took longer than a day to be chained is not found by a `to` before
///   its filing time.
/// - One call examines at most [`SCAN_LIMIT`](super::SCAN_LIMIT) lines. When a filter matches few of them, the
///   page is short, or empty, with a `next_cursor` to go on; `None` means nothing older can
///   match. A full page has a cursor even when nothing is left: the next page is empty.
/// - A cursor is the place of the last line a page examined (a segment's day and a byte offset,
///   a stream entry id, a `seq`); the next page reads only older lines, so lines appended
///   between pages are neither given nor make a line come twice. A cursor whose segment was
///   removed by retention goes on with what is older. A JSON Lines cursor that does not point
///   at the start of a line is refused as [`AuditReadError::InvalidCursor`].
/// - A line that is not an audit line (not JSON, no `seq`) is in no page; `verify` reports it.
///   Bytes after the newest segment's last newline (a line being written) are not yet a line.
/// - The in-memory log is read under its lock (the writer waits for one page); it holds the
///   lines its capacity keeps, and no checkpoint.
/// - A Redis source reads on a connection of its own, never the writer's. Redis errors say the
///   kind of failure, never the URL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AuditSource {
    /// Daily JSON Lines segments under a directory, read beside the live writer (no lock).
    JsonLines(PathBuf),
    /// A Redis stream, read through a connection of its own (the writer's is not shared).
    #[cfg(feature = "redis")]
    Redis(Arc<RedisAuditSink>),
    /// The bounded in-memory log of a development deployment: the lines it still holds.
    Memory(MemoryAuditSink),
    /// A sink of the application's own, which this crate cannot read back: every call answers
    /// [`AuditReadError::Unreadable`].
    Unreadable,
}

impl Default for AuditSource {
    /// [`AuditSource::Unreadable`]: a log not known to be readable.
    fn default() -> Self {
        AuditSource::Unreadable
    }
}

/// The kind of an [`AuditSource`], as a word for an API answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditSourceKind {
    /// [`AuditSource::JsonLines`].
    JsonLines,
    /// `AuditSource::Redis`.
    RedisStream,
    /// [`AuditSource::Memory`].
    Memory,
    /// [`AuditSource::Unreadable`].
    Unreadable,
}

impl AuditSource {
    /// Which kind of log this is.
    pub fn kind(&self) -> AuditSourceKind {
        match self {
            AuditSource::JsonLines(_) => AuditSourceKind::JsonLines,
            #[cfg(feature = "redis")]
            AuditSource::Redis(_) => AuditSourceKind::RedisStream,
            AuditSource::Memory(_) => AuditSourceKind::Memory,
            AuditSource::Unreadable => AuditSourceKind::Unreadable,
        }
    }

    /// One page of the lines `query` selects, newest first (in the chain's order: `seq`
    /// descending), with a cursor to the next page. One call examines at most
    /// [`SCAN_LIMIT`](super::SCAN_LIMIT) lines and reads only what they need: the newest
    /// segments from their ends, the stream with `XREVRANGE` in bounded batches.
    ///
    /// # Errors
    /// [`AuditReadError::FromAfterTo`], [`AuditReadError::InvalidCursor`] (not a cursor of
    /// this log), [`AuditReadError::Unreadable`], or [`AuditReadError::Io`] when the log cannot
    /// be read.
    pub fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditReadError> {
        let filter = query.filter()?;
        match self {
            AuditSource::JsonLines(dir) => super::jsonl::query(dir, filter),
            #[cfg(feature = "redis")]
            AuditSource::Redis(stream) => super::redis::query(stream, filter),
            AuditSource::Memory(sink) => super::memory::query(sink, filter),
            AuditSource::Unreadable => Err(AuditReadError::Unreadable),
        }
    }

    /// Verifies the whole chain: every line follows the one before, the log reaches its head
    /// checkpoint, and no recovery declared lines lost. Reads the log once, oldest first,
    /// holding [`ChainVerifier::PIECE`](super::ChainVerifier::PIECE) lines at a time.
    ///
    /// # Errors
    /// [`AuditReadError::Unreadable`], or [`AuditReadError::Io`] when the log cannot be read
    /// (a missing directory, a segment that cannot be opened, Redis not answering).
    pub fn verify(&self) -> Result<VerifyReport, AuditReadError> {
        match self {
            AuditSource::JsonLines(dir) => super::jsonl::verify(dir),
            #[cfg(feature = "redis")]
            AuditSource::Redis(stream) => super::redis::verify(stream),
            AuditSource::Memory(sink) => Ok(super::memory::verify(sink)),
            AuditSource::Unreadable => Err(AuditReadError::Unreadable),
        }
    }

    /// [`query`](Self::query) on a blocking thread of the current tokio runtime.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub async fn query_async(&self, query: AuditQuery) -> Result<AuditPage, AuditReadError> {
        let source = self.clone();
        blocking(move || source.query(&query)).await
    }

    /// [`verify`](Self::verify) on a blocking thread of the current tokio runtime.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub async fn verify_async(&self) -> Result<VerifyReport, AuditReadError> {
        let source = self.clone();
        blocking(move || source.verify()).await
    }
}

async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, AuditReadError> + Send + 'static,
) -> Result<T, AuditReadError> {
    tokio::task::spawn_blocking(read).await.map_err(|e| {
        // A read that panicked or whose runtime shut down: said as an I/O failure.
        AuditReadError::io("audit read", std::io::Error::other(e.to_string()))
    })?
}
