//! `AuditRecord` and `AuditLog`: one verified chain under 100,000 concurrent requests, tampering
//! with a JSON Lines segment found by `verify`, retention to the second (memory) and by whole
//! days (JSON Lines), a failing sink retried without loss while `/health` says degraded,
//! back-pressure on a full queue, flush on shutdown, the outcome of every rejection in one
//! pipeline, what never reaches the log (query strings, keys, oversized or non-UTF-8 user
//! agents), tombstones expired by the writer, the chain continued across a restart, and the log
//! read back (queries newest first, pages, verification) from files, memory and a deployment.
//! Event times and cut-offs come from a `ManualClock`; the writer's maintenance interval and retry
//! back-off elapse in paused tokio time.

mod bounded;
mod chain;
mod close;
mod outcomes;
mod read;
mod read_deployment;
mod recovery;
mod restart;
mod retention;
mod secrets;
mod tombstones;
mod writer;

use std::collections::HashSet;
use std::convert::Infallible;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::common::{Fixture, KEY_ID, PROJECT, Reply, T0, send};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use memorysync_pipeline::audit::{
    AuditLog, AuditLogConfig, AuditRecordLayer, AuditSink, BreakKind, ChainBreak, ChainHead,
    ChainedLine, JsonLinesSink, MAX_USER_AGENT, MemoryAuditSink, X_REQUEST_ID, verify,
};
use memorysync_pipeline::clock::{Clock, ManualClock, Timestamp};
use memorysync_pipeline::health::{CheckStatus, HealthCheck, HealthRouteLayer};
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore};
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{Plan, QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::tombstone::{MemoryTombstones, TombstoneKind, TombstoneStore};
use memorysync_pipeline::{ClientAddr, Environment};
use serde_json::Value;
use tokio::task::JoinSet;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

const DAY: Duration = Duration::from_secs(86_400);
/// The default retention, and the one the retention cases configure explicitly.
const NINETY_DAYS: Duration = Duration::from_secs(90 * 86_400);
/// The maintenance interval of the cases that let it elapse.
const MAINTENANCE: Duration = Duration::from_secs(60);

// ----- fixtures -----------------------------------------------------------------------------

/// A directory under the system's temp dir, unique to this process and case, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(case: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "memorysync-audit-{case}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The inner service: 200 `inner`.
/// A log writing into `sink` on `clock`.
fn log_on<S: AuditSink + Clone>(sink: &S, clock: &ManualClock) -> AuditLog {
    AuditLog::start(
        sink.clone(),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap()
}

fn ok_service()
-> impl Service<Request<String>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
    })
}

/// `method path` with no header.
fn request(method: Method, path: &str) -> Request<String> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(String::new())
        .unwrap()
}

fn get(path: &str) -> Request<String> {
    request(Method::GET, path)
}

/// `T0` moved by a signed number of seconds.
fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0.unix_millis() + offset_secs * 1000)
}

/// `T0` minus 90 days, plus `offset_secs`.
fn ninety_days_before_t0(offset_secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0.saturating_sub(NINETY_DAYS).unix_millis() + offset_secs * 1000)
}

/// The segment file name of `ts`'s UTC day.
fn segment_name(ts: Timestamp) -> String {
    format!("audit-{}.jsonl", &ts.to_rfc3339()[..10])
}

/// Lets paused tokio time run forward by `by` (auto-advanced, no real wait): the writer's
/// timers that fall inside fire, and their work (run on the blocking pool, which holds the
/// paused clock while it works) completes before this returns.
async fn elapse(by: Duration) {
    tokio::time::sleep(by).await;
}

/// Each line parsed as JSON.
fn parsed(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[track_caller]
fn assert_verifies(lines: &[String], head: ChainHead) {
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(head)),
        Ok(lines.len()),
        "the chain does not verify to {head:?}"
    );
}

/// A gate a blocking sink waits on; opened by the test, or by its guard when the test fails,
/// so a closed gate never keeps the runtime from shutting down.
#[derive(Debug, Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// Opens the gate when dropped.
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// A memory sink whose writes wait at a gate, and say when one has started waiting.
#[derive(Clone, Debug)]
struct GatedSink {
    lines: MemoryAuditSink,
    gate: Arc<Gate>,
    entered: tokio::sync::mpsc::UnboundedSender<()>,
}

impl GatedSink {
    fn new() -> (Self, tokio::sync::mpsc::UnboundedReceiver<()>) {
        let (entered, receiver) = tokio::sync::mpsc::unbounded_channel();
        let sink = GatedSink {
            lines: MemoryAuditSink::new(),
            gate: Arc::default(),
            entered,
        };
        (sink, receiver)
    }
}

impl AuditSink for GatedSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        let _ = self.entered.send(());
        self.gate.wait();
        self.lines.write(batch)
    }

    fn purge_before(&self, cutoff: Timestamp) -> io::Result<usize> {
        self.lines.purge_before(cutoff)
    }

    fn head(&self) -> io::Result<ChainHead> {
        self.lines.head()
    }
}

/// Yields to the other tasks of a current-thread runtime until `done` holds (at most 10,000
/// times, then fails).
async fn yield_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never happened: {what}");
}
