//! The per-attempt delivery log: every attempt the worker sends (when, to which endpoint, which
//! message and event, the HTTP status or none, the latency, the error without secrets), kept for
//! the audit retention (`[audit] retention_days`) on every backend, and read newest first with
//! filters and an opaque cursor.
//!
//! Backends: [`MemoryAttemptLog`] (bounded, purged by age as it is written), the embedded
//! store's table (purged by age), a Redis stream (trimmed by `MINID` on every write). Writing is
//! off the delivery's path of success: a log that does not answer costs a warning, never a
//! delivery.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::webhook::attempt_log::{
//!     AttemptLog, AttemptQuery, AttemptRecord, MemoryAttemptLog, StatusFilter,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let log = MemoryAttemptLog::new(Duration::from_secs(90 * 86_400));
//! let at = Timestamp::from_unix_secs(1_800_000_000);
//! log.record(AttemptRecord::new(at, "ep_a", "msg_1", "quota.exhausted", Some(500), 12, Some("status 500".into()))).await.unwrap();
//! log.record(AttemptRecord::new(at, "ep_a", "msg_1", "quota.exhausted", Some(200), 9, None)).await.unwrap();
//! let failed = AttemptQuery { status: Some(StatusFilter::Failed), ..AttemptQuery::default() };
//! let page = log.query(&failed).await.unwrap();
//! assert_eq!(page.items[0].status, Some(500));
//! # });
//! ```

mod memory;

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use memory::MemoryAttemptLog;

use crate::clock::Timestamp;
use crate::store::StoreError;

/// The most attempts one query returns.
pub const MAX_PAGE: usize = 1000;
/// The most stored attempts one query looks at before it returns what it found (with a cursor
/// to go on from), so that a filter matching nothing never reads the whole log.
pub const MAX_SCAN: usize = 10_000;

/// One attempt at a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// When it was sent.
    pub at: Timestamp,
    /// The endpoint's id (or, for a delivery queued before deliveries named their endpoint,
    /// its URL).
    pub endpoint: Arc<str>,
    /// The message's `webhook-id`.
    pub message: Arc<str>,
    /// The event type.
    pub event_type: Arc<str>,
    /// The HTTP status the receiver answered; `None` when none came (a timeout, a refused
    /// connection, a refused address).
    pub status: Option<u16>,
    /// From sending to the answer (or the failure), in milliseconds.
    pub latency_ms: u64,
    /// What went wrong, without secrets; `None` for a delivery.
    pub error: Option<String>,
}

impl AttemptRecord {
    /// An attempt.
    pub fn new(
        at: Timestamp,
        endpoint: impl Into<Arc<str>>,
        message: impl Into<Arc<str>>,
        event_type: impl Into<Arc<str>>,
        status: Option<u16>,
        latency_ms: u64,
        error: Option<String>,
    ) -> Self {
        AttemptRecord {
            at,
            endpoint: endpoint.into(),
            message: message.into(),
            event_type: event_type.into(),
            status,
            latency_ms,
            error,
        }
    }

    /// Whether the receiver took it (a 2xx).
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The form every backend stores: JSON, the instant in unix milliseconds.
    pub fn to_json(&self) -> String {
        let stored = Stored {
            at: self.at.unix_millis(),
            endpoint: self.endpoint.to_string(),
            message: self.message.to_string(),
            event_type: self.event_type.to_string(),
            status: self.status,
            latency_ms: self.latency_ms,
            error: self.error.clone(),
        };
        // Strings and numbers always serialize.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// [`AttemptRecord::to_json`] read back.
    ///
    /// # Errors
    /// Text that is not a stored attempt.
    pub fn from_json(text: &str) -> Result<Self, StoreError> {
        let stored: Stored = serde_json::from_str(text)
            .map_err(|_| StoreError::new("an unreadable webhook attempt"))?;
        Ok(AttemptRecord {
            at: Timestamp::from_unix_millis(stored.at),
            endpoint: stored.endpoint.into(),
            message: stored.message.into(),
            event_type: stored.event_type.into(),
            status: stored.status,
            latency_ms: stored.latency_ms,
            error: stored.error,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    at: i64,
    endpoint: String,
    message: String,
    event_type: String,
    #[serde(default)]
    status: Option<u16>,
    latency_ms: u64,
    #[serde(default)]
    error: Option<String>,
}

/// Which attempts a query keeps by their outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    /// `delivered`: a 2xx answer.
    Delivered,
    /// `failed`: anything else, with a status or without.
    Failed,
    /// A numeric status, e.g. `503`.
    Code(u16),
}

/// A status filter that is not `delivered`, `failed` or a status from 100 to 599.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadStatusFilter;

impl fmt::Display for BadStatusFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("status is `delivered`, `failed` or an HTTP status from 100 to 599")
    }
}

impl std::error::Error for BadStatusFilter {}

impl FromStr for StatusFilter {
    type Err = BadStatusFilter;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "delivered" => Ok(StatusFilter::Delivered),
            "failed" => Ok(StatusFilter::Failed),
            digits => match digits.parse::<u16>() {
                Ok(code @ 100..=599) if digits.len() == 3 => Ok(StatusFilter::Code(code)),
                _ => Err(BadStatusFilter),
            },
        }
    }
}

/// What to read: newest first, from after `cursor`, at most `limit` (1 to [`MAX_PAGE`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptQuery {
    /// Only attempts to this endpoint.
    pub endpoint: Option<String>,
    /// Only attempts with this outcome.
    pub status: Option<StatusFilter>,
    /// Where the previous page ended ([`AttemptPage::next_cursor`]).
    pub cursor: Option<String>,
    /// How many at most.
    pub limit: usize,
}

impl Default for AttemptQuery {
    /// Everything, 100 at a time.
    fn default() -> Self {
        AttemptQuery {
            endpoint: None,
            status: None,
            cursor: None,
            limit: 100,
        }
    }
}

impl AttemptQuery {
    /// Whether `attempt` passes the filters.
    pub fn matches(&self, attempt: &AttemptRecord) -> bool {
        let endpoint = self
            .endpoint
            .as_deref()
            .is_none_or(|e| *attempt.endpoint == *e);
        let status = match self.status {
            None => true,
            Some(StatusFilter::Delivered) => attempt.delivered(),
            Some(StatusFilter::Failed) => !attempt.delivered(),
            Some(StatusFilter::Code(code)) => attempt.status == Some(code),
        };
        endpoint && status
    }

    /// The limit, within 1 and [`MAX_PAGE`].
    pub fn page_size(&self) -> usize {
        self.limit.clamp(1, MAX_PAGE)
    }
}

/// One page of attempts, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptPage {
    /// The attempts.
    pub items: Vec<AttemptRecord>,
    /// Where the next page starts; `None` at the end of the log.
    pub next_cursor: Option<String>,
}

impl AttemptPage {
    /// A page.
    pub fn new(items: Vec<AttemptRecord>, next_cursor: Option<String>) -> Self {
        AttemptPage { items, next_cursor }
    }
}

/// Why a page (of attempts, of dead letters) was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageError {
    /// The cursor is not one a previous page gave.
    BadCursor,
    /// The store did not answer.
    Store(StoreError),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::BadCursor => f.write_str("the cursor is not one a previous page gave"),
            PageError::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PageError {}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        PageError::Store(error)
    }
}

/// Where attempts are kept.
pub trait AttemptLog: Send + Sync + 'static {
    /// Keeps `attempt`, and drops those older than the retention.
    fn record(&self, attempt: AttemptRecord)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A page of attempts, newest first.
    fn query(
        &self,
        query: &AttemptQuery,
    ) -> impl Future<Output = Result<AttemptPage, PageError>> + Send;
}

/// `<millis>-<sequence>`: the cursor of the memory and embedded logs, shaped like a Redis
/// stream id.
pub(crate) fn parse_cursor(cursor: &str) -> Result<(i64, u64), PageError> {
    let (millis, seq) = cursor.split_once('-').ok_or(PageError::BadCursor)?;
    let millis = millis.parse().map_err(|_| PageError::BadCursor)?;
    let seq = seq.parse().map_err(|_| PageError::BadCursor)?;
    Ok((millis, seq))
}

/// [`parse_cursor`]'s inverse.
pub(crate) fn cursor((millis, seq): (i64, u64)) -> String {
    format!("{millis}-{seq}")
}
