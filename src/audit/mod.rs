//! `AuditRecord`: stage 2, the audit log (section 7).
//!
//! One event per API call with its final outcome: `allowed`, `unauthenticated`, `forbidden`,
//! `rate_limited`, `degraded` or `error`, read from the typed markers that the stages inside
//! leave on the response ([`Rejection`](crate::rejection::Rejection),
//! [`QuotaDegraded`](crate::quota::QuotaDegraded), the [`Principal`](crate::auth::Principal)).
//! An event holds the time (UTC), the request id (`X-Request-Id` when well-formed, else
//! generated; put into the request, so that the services inside and a proxy's upstream see the
//! id the log records, and echoed on the response), method, path without its query string,
//! status, outcome, key id, project, environment, client address, user agent (at most 512
//! bytes, non-UTF-8 escaped) and latency. Never a key, a key hash or a secret.
//!
//! Events go through a bounded queue to a background writer ([`AuditLog`]) that chains them
//! (each line carries the SHA-256 of the line before; [`verify`] finds a gap or an edit) and
//! writes them in batches to an [`AuditSink`]: [`JsonLinesSink`] (one segment per UTC day), or
//! [`MemoryAuditSink`] for tests and development (bounded: past its capacity it evicts the
//! oldest events, and `/health` reports `degraded` with their count). The writer drops nothing:
//! when the queue is full the call waits for room (counted); when the sink fails the writer
//! retries and `/health` reports `degraded`.
//! Retention (90 days by default) and tombstone expiry run by themselves in the writer.
//! The log is read back through its [`AuditSource`] ([`AuditLog::source`]): queries newest
//! first with an opaque cursor, and a verification of the whole chain (the decisions are on
//! [`AuditSource`]).
//!
//! # Example
//! ```
//! use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink, verify};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let sink = MemoryAuditSink::new();
//! let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
//! let service = ServiceBuilder::new()
//!     .layer(AuditRecordLayer::new(log.clone()))
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! let request = http::Request::get("/v1/memories?api_key=oops").body(String::new()).unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert!(response.headers().contains_key("x-request-id"));
//!
//! log.flush().await;
//! let lines = sink.lines();
//! assert_eq!(verify(lines.iter().map(String::as_str), Some(log.head())), Ok(1));
//! assert!(lines[0].contains(r#""path":"/v1/memories""#) && !lines[0].contains("api_key"));
//! # });
//! ```

//!
//! # Decisions
//!
//! Where the design is silent:
//! - Outcomes: 401s are `unauthenticated`; a missing or another project's `X-Project-ID` is
//!   `forbidden`; both 429s are `rate_limited`; a quota degrade is `degraded`; any 5xx, an
//!   error from inside, or a store that did not answer is `error`.
//! - A call whose future is dropped before the inner service answered (client gone, a timeout
//!   outside) is recorded with status 499 and outcome `error`.
//! - `/health` probes are answered outside this stage and are not recorded.
//! - The user agent is cut at [`MAX_USER_AGENT`] bytes (marked `…`), the path at [`MAX_PATH`];
//!   invalid UTF-8 is written `\xNN`, control characters `\u{NN}`.
//! - Lines are filed by their place in the chain: a line's filing time
//!   ([`ChainedLine::ts`]) is its event's time, or the line before's when that is later. Events
//!   are chained in the order their calls finish but carry the time their calls arrived, so a
//!   call that spans midnight UTC goes into the new day's segment, after the line it follows;
//!   its `ts` field still says when it arrived. Segments read in name order are the chain in
//!   order, and a restart goes on from the newest segment's last line, the true head.
//! - JSON Lines segments are synced to disk (`fdatasync`) after every batch by default
//!   ([`Fsync::Batch`], `[audit] fsync = "batch"`): [`AuditLog::flush`] returns once the lines
//!   are on disk. With [`Fsync::Off`] they are handed to the operating system after every batch
//!   and synced when their day ends; a process crash loses nothing written, an operating system
//!   crash or a power cut what the system had not yet written. The cost is in BENCHMARKS.md.
//! - A batch that fails part-way (a full disk) is cut back off its segments, so the retry
//!   writes each line once.
//! - At start, the bytes after the newest segment's last whole line (a write cut short by a
//!   crash, or zeros an operating system crash left) are moved into `<segment>.torn-<offset>`
//!   beside it, kept and never deleted (retention removes segments only), and the chain goes on
//!   from the last whole line; an empty newest segment (made by log rotation) is passed over.
//!   What was repaired is the resumed chain's first event, method [`RECOVERY_METHOD`], path
//!   [`RECOVERY_PATH`], outcome `error`, with a `detail` such as
//!   `torn_tail_bytes=27 moved_to=audit-2027-01-16.jsonl.torn-5210 resumed_after_seq=41`.
//!   `memorysync audit verify` lists these events as declared recoveries.
//! - The head (last `seq` and hash) is checkpointed after every batch, outside the lines:
//!   `<dir>/head` ([`HEAD_FILE`], renamed into place after the segments are synced), and on
//!   Redis a key beside the stream set in the batch's own transaction. A log that ends before
//!   its checkpoint had lines cut off: `memorysync audit verify` fails it, and the next start
//!   goes on from the last line left with a `RECOVERY` event whose detail opens with
//!   [`ENDS_BEFORE_CHECKPOINT`] (verify keeps failing on that declared loss). This protects
//!   against accidents and a careless operator. It does not protect against someone who can
//!   rewrite both the log and the checkpoint: for that, ship the head ([`AuditLog::head`],
//!   [`ChainHead::to_checkpoint`]) as it moves to a place that writer cannot reach. Lines cut
//!   within the last batch before its checkpoint moved, or a log of which every line was
//!   removed while its checkpoint was too, are not found.
//! - A chain has one live writer. [`JsonLinesSink::new`] holds an exclusive lock on
//!   `<dir>/.lock` ([`LOCK_FILE`]) for the sink's life, released by the operating system when
//!   the process dies; a second writer gets [`std::io::ErrorKind::WouldBlock`] naming the
//!   directory. [`JsonLinesSink::reader`] reads beside the writer and cannot write. On Redis, the
//!   stream's writer holds a lease (`RedisAuditSink::take_lease`, with the `redis` feature).
//! - The writer's instance name, when the deployment gives none, is generated once and kept in
//!   `<dir>/instance` ([`instance_in_dir`]), so a restart continues the same chain.

mod chain;
pub(crate) mod checkpoint;
mod config;
mod event;
mod future;
mod instance;
mod jsonl;
mod layer;
mod log;
mod read;
mod recovery;
mod request_id;
mod service;
mod sink;
mod writer;

pub use chain::{BreakKind, ChainBreak, ChainHead, ChainedLine, verify};
pub use checkpoint::ENDS_BEFORE_CHECKPOINT;
pub use config::AuditLogConfig;
#[cfg_attr(not(feature = "admin"), allow(unused_imports))]
pub(crate) use event::sanitized;
pub use event::{AuditEvent, MAX_PATH, MAX_USER_AGENT, Outcome, UnknownOutcome};
pub use future::ResponseFuture;
pub use instance::{
    INSTANCE_FILE, INSTANCE_NAME_RULE, MAX_INSTANCE_NAME, generate_instance_name, instance_in_dir,
    is_instance_name,
};
pub use jsonl::{Fsync, HEAD_FILE, JsonLinesSink, LOCK_FILE};
pub use layer::AuditRecordLayer;
pub use log::{AuditLog, AuditStats, Unwritten};
pub use read::{
    AuditCursor, AuditPage, AuditQuery, AuditReadError, AuditSource, AuditSourceKind,
    ChainVerifier, CheckpointReport, FILING_SLACK, FirstBreak, HeadReport, LinePlace, Recovery,
    SCAN_LIMIT, TornTail, VerifyReport,
};
pub use recovery::{RECOVERY_METHOD, RECOVERY_PATH};
pub use request_id::X_REQUEST_ID;
#[cfg_attr(not(feature = "admin"), allow(unused_imports))]
pub(crate) use request_id::request_id;
pub use service::AuditRecord;
pub use sink::{AuditSink, MemoryAuditSink, Resumed};
