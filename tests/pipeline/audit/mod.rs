//! `AuditRecord` and `AuditLog`: one verified chain under 100,000 concurrent requests, tampering
//! with a JSON Lines segment found by `verify`, retention to the second (memory) and by whole
//! days (JSON Lines), a failing sink retried without loss while `/health` says degraded,
//! back-pressure on a full queue, flush on shutdown, the outcome of every rejection in one
//! pipeline, what never reaches the log (query strings, keys, oversized or non-UTF-8 user
//! agents), tombstones expired by the writer, and the chain continued across a restart.
//! Event times and cut-offs come from a `ManualClock`; the writer's maintenance interval and retry
//! back-off elapse in paused tokio time.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::convert::Infallible;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Fixture, KEY_ID, PROJECT, Reply, T0, send};
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

// ----- 1. load ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_thousand_concurrent_requests_leave_one_chain_that_verifies_to_the_head() {
    const REQUESTS: usize = 100_000;
    let sink = MemoryAuditSink::new();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());

    let mut tasks = JoinSet::new();
    for i in 0..REQUESTS {
        let service = service.clone();
        tasks.spawn(async move {
            let response = service
                .oneshot(get(&format!("/v1/memories/{i}")))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.headers()[X_REQUEST_ID]
                .to_str()
                .unwrap()
                .to_owned()
        });
    }
    let mut answered = HashSet::with_capacity(REQUESTS);
    while let Some(id) = tasks.join_next().await {
        assert!(answered.insert(id.unwrap()), "a request id was given twice");
    }
    log.flush().await;

    let lines = sink.lines();
    assert_eq!(lines.len(), REQUESTS);
    assert_verifies(&lines, log.head());
    assert_eq!(log.head().seq, REQUESTS as u64);

    // Generated ids need no JSON escaping: read them straight from the text.
    let logged: HashSet<String> = lines
        .iter()
        .map(|l| {
            let rest = &l[l.find(r#""request_id":""#).unwrap() + 14..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect();
    assert_eq!(
        logged, answered,
        "each response's request id is logged once"
    );

    let stats = log.stats();
    assert_eq!(stats.queued, REQUESTS as u64);
    assert_eq!(stats.written, REQUESTS as u64);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.sink_failures, 0);
}

// ----- 2. tampering with a JSON Lines segment -------------------------------------------------

#[tokio::test]
async fn verify_finds_an_edited_a_removed_and_a_cut_off_line_in_a_json_lines_segment() {
    let dir = TempDir::new("tamper");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let clock = ManualClock::new(T0);
    let log = AuditLog::start(
        sink.clone(),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    for i in 1..=5 {
        let request = Request::get(format!("/v1/memories/{i}"))
            .header("x-request-id", format!("req-{i}"))
            .body(String::new())
            .unwrap();
        service.clone().oneshot(request).await.unwrap();
        clock.advance(Duration::from_secs(1));
    }
    log.flush().await;
    let head = log.head();

    let segments = sink.segments().unwrap();
    assert_eq!(segments.len(), 1, "{segments:?}");
    assert!(segments[0].ends_with(segment_name(T0)), "{segments:?}");
    let segment = &segments[0];
    let original = fs::read_to_string(segment).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_verifies(&sink.read_lines().unwrap(), head);

    let rewrite = |lines: &[&str]| {
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(segment, text).unwrap();
        sink.read_lines().unwrap()
    };

    // An edit of line 2 is found at line 3, whose `prev` no longer matches.
    let mut edited = lines.clone();
    let changed = lines[1].replace(r#""request_id":"req-2""#, r#""request_id":"req-X""#);
    assert_ne!(changed, lines[1]);
    edited[1] = &changed;
    let read = rewrite(&edited);
    let expected = ChainBreak {
        line: 3,
        problem: BreakKind::Edited,
    };
    assert_eq!(
        verify(read.iter().map(String::as_str), None),
        Err(expected.clone())
    );
    assert_eq!(
        verify(read.iter().map(String::as_str), Some(head)),
        Err(expected)
    );

    // A removed line 3: the line now third does not follow the second.
    let mut removed = lines.clone();
    removed.remove(2);
    let read = rewrite(&removed);
    assert_eq!(
        verify(read.iter().map(String::as_str), Some(head)),
        Err(ChainBreak {
            line: 3,
            problem: BreakKind::Gap
        })
    );

    // The last line cut off: what is left is a chain, but not up to the head the log recorded.
    rewrite(&lines);
    let without_last = original.len() - lines[4].len() - 1;
    let file = fs::OpenOptions::new().write(true).open(segment).unwrap();
    file.set_len(without_last as u64).unwrap();
    drop(file);
    let read = sink.read_lines().unwrap();
    assert_eq!(read.len(), 4);
    assert_eq!(verify(read.iter().map(String::as_str), None), Ok(4));
    assert_eq!(
        verify(read.iter().map(String::as_str), Some(head))
            .unwrap_err()
            .problem,
        BreakKind::HeadMismatch
    );
}

// ----- 3. retention --------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn retention_purges_from_memory_exactly_the_events_older_than_the_cutoff() {
    let clock = ManualClock::new(ninety_days_before_t0(-1));
    let sink = MemoryAuditSink::new();
    let config = AuditLogConfig::new()
        .with_retention(NINETY_DAYS)
        .with_maintenance_every(MAINTENANCE)
        .with_clock(clock.clone());
    let log = AuditLog::start(sink.clone(), config).unwrap();
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    for offset in [-1, 0, 1] {
        clock.set(ninety_days_before_t0(offset));
        service.clone().oneshot(get("/v1/memories")).await.unwrap();
    }
    log.flush().await;
    assert_eq!(sink.len(), 3);

    // Time has come, but the interval has not elapsed: nothing is purged yet.
    clock.set(T0);
    log.flush().await;
    assert_eq!(sink.len(), 3);
    assert_eq!(log.stats().purged, 0);

    elapse(MAINTENANCE + Duration::from_secs(1)).await;
    log.flush().await;
    let lines = sink.lines();
    let kept: Vec<String> = parsed(&lines)
        .iter()
        .map(|e| e["ts"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kept,
        [ninety_days_before_t0(0), ninety_days_before_t0(1)].map(Timestamp::to_rfc3339),
        "the event at the cutoff is kept, the one a second before it purged"
    );
    assert_eq!(log.stats().purged, 1);
    assert_verifies(&lines, log.head());

    // The next run finds nothing more to purge.
    elapse(MAINTENANCE).await;
    log.flush().await;
    assert_eq!(sink.len(), 2);
    assert_eq!(log.stats().purged, 1);
}

#[tokio::test(start_paused = true)]
async fn retention_deletes_the_json_lines_segments_of_whole_days_before_the_cutoff_day() {
    let dir = TempDir::new("retention");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let cutoff = ninety_days_before_t0(0); // 2026-10-17T08:00:00Z
    assert_eq!(cutoff.to_rfc3339(), "2026-10-17T08:00:00Z");
    let utc = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
    let times = [
        utc("2026-10-15T12:00:00Z"),
        utc("2026-10-16T23:59:59Z"),
        utc("2026-10-17T00:00:00Z"), // the cutoff's day, before the cutoff
        utc("2026-10-17T08:00:01Z"),
        T0,
    ];
    let clock = ManualClock::new(times[0]);
    let config = AuditLogConfig::new()
        .with_retention(NINETY_DAYS)
        .with_maintenance_every(MAINTENANCE)
        .with_clock(clock.clone());
    let log = AuditLog::start(sink.clone(), config).unwrap();
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    for ts in times {
        clock.set(ts);
        service.clone().oneshot(get("/v1/memories")).await.unwrap();
        // One batch per event, so each lands on its own day's segment by itself.
        log.flush().await;
    }
    let names = |sink: &JsonLinesSink| -> Vec<String> {
        sink.segments()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&sink),
        [
            "audit-2026-10-15.jsonl",
            "audit-2026-10-16.jsonl",
            "audit-2026-10-17.jsonl",
            "audit-2027-01-15.jsonl"
        ]
    );
    assert_eq!(log.stats().purged, 0);

    elapse(MAINTENANCE + Duration::from_secs(1)).await;
    log.flush().await;
    assert_eq!(
        names(&sink),
        ["audit-2026-10-17.jsonl", "audit-2027-01-15.jsonl"],
        "the cutoff day's segment is kept whole"
    );
    assert_eq!(log.stats().purged, 2);
    let lines = sink.read_lines().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(parsed(&lines)[0]["ts"], times[2].to_rfc3339());
    assert_verifies(&lines, log.head());
}

// ----- 4. a failing sink ---------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_failing_sink_degrades_health_and_loses_nothing_once_it_recovers() {
    const REQUESTS: usize = 20;
    let dir = TempDir::new("failing");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let clock = ManualClock::new(T0);
    let log = AuditLog::start(
        sink.clone(),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    let check = log.health_check();
    assert_eq!(check.name(), "audit");
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new().with_check(log.health_check()))
        .stage(AuditRecordLayer::new(log.clone()).with_clock(clock.clone()))
        .into_layer();
    let service = ServiceBuilder::new().layer(pipeline).service(ok_service());
    let probe = || async { send(service.clone(), get("/health")).await.json() };
    assert_eq!(probe().await, serde_json::json!({"status": "ok"}));

    // Appending to today's segment fails: a directory has its name.
    let blocker = dir.path().join(segment_name(T0));
    fs::create_dir(&blocker).unwrap();

    let mut answered = Vec::new();
    for i in 0..REQUESTS {
        let reply = send(service.clone(), get(&format!("/v1/memories/{i}"))).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.text(), "inner");
        answered.push(reply.header("x-request-id").to_owned());
        if i == 0 {
            // Let the writer try the first event and fail.
            for _ in 0..100 {
                if log.stats().sink_failures > 0 {
                    break;
                }
                elapse(Duration::from_millis(10)).await;
            }
        }
    }
    assert!(log.stats().sink_failures > 0, "{:?}", log.stats());
    elapse(Duration::from_secs(30)).await; // several retries, all failing
    let stats = log.stats();
    assert!(stats.sink_failures > 1, "{stats:?}");
    assert_eq!(stats.written, 0);
    assert_eq!(stats.dropped, 0);
    assert!(matches!(check.check().await, CheckStatus::Degraded(_)));
    let report = probe().await;
    assert_eq!(report["status"], "degraded", "{report}");
    assert!(report["checks"]["audit"].is_string(), "{report}");
    assert_ne!(report["checks"]["audit"], "ok", "{report}");

    fs::remove_dir(&blocker).unwrap();
    log.flush().await; // waits out the back-off, then writes everything queued
    let lines = sink.read_lines().unwrap();
    assert_eq!(lines.len(), REQUESTS);
    assert_verifies(&lines, log.head());
    let logged: Vec<String> = parsed(&lines)
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, answered, "every event written once, in order");
    let stats = log.stats();
    assert_eq!(stats.written, REQUESTS as u64);
    assert_eq!(stats.dropped, 0);
    assert_eq!(check.check().await, CheckStatus::Ok);
    assert_eq!(probe().await, serde_json::json!({"status": "ok"}));
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_writes_a_batch_that_spans_midnight_once() {
    let dir = TempDir::new("midnight");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let before_midnight = Timestamp::parse_rfc3339("2027-01-15T23:59:59Z").unwrap();
    let clock = ManualClock::new(before_midnight);
    let log = AuditLog::start(
        sink.clone(),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    // The new day's segment cannot be created; the old day's still takes appends.
    let blocker = dir.path().join("audit-2027-01-16.jsonl");
    fs::create_dir(&blocker).unwrap();

    // Both events go to the writer in one batch: 23:59:59 and 00:00:01.
    service
        .clone()
        .oneshot(get("/v1/memories/1"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(2));
    service
        .clone()
        .oneshot(get("/v1/memories/2"))
        .await
        .unwrap();
    elapse(Duration::from_secs(3)).await; // a few retries of that batch
    assert!(log.stats().sink_failures > 1, "{:?}", log.stats());

    fs::remove_dir(&blocker).unwrap();
    log.flush().await;
    let lines = sink.read_lines().unwrap();
    assert_eq!(lines.len(), 2, "each event written once: {lines:#?}");
    assert_verifies(&lines, log.head());
}

// ----- 5. back-pressure ----------------------------------------------------------------------

#[tokio::test]
async fn a_full_queue_makes_requests_wait_and_loses_nothing() {
    const WAITING: usize = 8;
    let (sink, mut entered) = GatedSink::new();
    let _open_on_failure = OpenOnDrop(Arc::clone(&sink.gate));
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new().with_queue_capacity(1)).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());

    // The first event is taken by the writer, which then blocks in the sink.
    service
        .clone()
        .oneshot(get("/v1/memories/0"))
        .await
        .unwrap();
    entered.recv().await.unwrap();

    // One more fills the queue; the rest wait for room with their responses held back.
    let mut tasks = Vec::new();
    for i in 1..=WAITING + 1 {
        let service = service.clone();
        tasks.push(tokio::spawn(async move {
            service
                .oneshot(get(&format!("/v1/memories/{i}")))
                .await
                .unwrap()
        }));
    }
    yield_until("requests wait for room", || {
        log.stats().waited_for_room == WAITING as u64
    })
    .await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let finished = tasks.iter().filter(|t| t.is_finished()).count();
    assert_eq!(
        finished, 1,
        "only the request that found room has its response"
    );
    assert_eq!(log.stats().written, 0);

    sink.gate.open();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    log.flush().await;
    let lines = sink.lines.lines();
    assert_eq!(lines.len(), WAITING + 2);
    assert_verifies(&lines, log.head());
    let stats = log.stats();
    assert_eq!(stats.waited_for_room, WAITING as u64);
    assert_eq!(stats.queued, (WAITING + 2) as u64);
    assert_eq!(stats.written, (WAITING + 2) as u64);
    assert_eq!(stats.dropped, 0);
}

// ----- 6. flush on shutdown ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flush_on_shutdown_leaves_every_answered_request_in_the_sink() {
    const REQUESTS: usize = 5_000;
    let sink = MemoryAuditSink::new();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());
    let mut tasks = JoinSet::new();
    for i in 0..REQUESTS {
        let service = service.clone();
        tasks.spawn(async move {
            let response = service
                .oneshot(get(&format!("/v1/memories/{i}")))
                .await
                .unwrap();
            response.headers()[X_REQUEST_ID]
                .to_str()
                .unwrap()
                .to_owned()
        });
    }
    let mut answered = HashSet::new();
    while let Some(id) = tasks.join_next().await {
        answered.insert(id.unwrap());
    }
    // Shutdown: the server stops taking requests, then flushes the log.
    drop(service);
    log.flush().await;
    assert_eq!(sink.len(), REQUESTS);
    let logged: HashSet<String> = parsed(&sink.lines())
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, answered);
    assert_eq!(log.stats().written, REQUESTS as u64);
    assert_eq!(log.head().seq, REQUESTS as u64);
}

#[tokio::test]
async fn flush_waits_until_the_sink_has_taken_every_queued_event() {
    const REQUESTS: usize = 50;
    let (sink, mut entered) = GatedSink::new();
    let _open_on_failure = OpenOnDrop(Arc::clone(&sink.gate));
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());
    for i in 0..REQUESTS {
        let response = service
            .clone()
            .oneshot(get(&format!("/v1/memories/{i}")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let flushing = tokio::spawn({
        let log = log.clone();
        async move { log.flush().await }
    });
    entered.recv().await.unwrap();
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !flushing.is_finished(),
        "flush returned before the sink wrote"
    );
    assert_eq!(sink.lines.len(), 0);

    sink.gate.open();
    flushing.await.unwrap();
    assert_eq!(sink.lines.len(), REQUESTS);
    assert_verifies(&sink.lines.lines(), log.head());
}

// ----- 7. outcomes ---------------------------------------------------------------------------

/// The whole pipeline over the fixture's store and clock, recording into `log`; the inner
/// service answers 500 on `/v1/fail`.
fn audited_pipeline(
    fixture: &Fixture,
    log: &AuditLog,
    plans: QuotaPlans,
) -> impl Service<
    Request<String>,
    Response = Response<impl http_body::Body<Data = Bytes, Error: std::fmt::Debug>>,
    Error = Infallible,
> + Clone {
    let pipeline = PipelineBuilder::new()
        .stage(AuditRecordLayer::new(log.clone()).with_clock(fixture.clock.clone()))
        .stage(fixture.auth_layer())
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new().with_clock(fixture.clock.clone()))
        .stage(QuotaDegradeLayer::new(plans).with_clock(fixture.clock.clone()))
        .into_layer();
    let inner = service_fn(|request: Request<String>| async move {
        let status = if request.uri().path() == "/v1/fail" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        let mut response = Response::new(Full::new(Bytes::from_static(b"inner")));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    });
    ServiceBuilder::new().layer(pipeline).service(inner)
}

/// A call from 203.0.113.7 with `key` in `X-API-Key`, `project` in `X-Project-ID` and
/// `request_id` in `X-Request-Id`, each when given.
fn call(
    method: Method,
    path: &str,
    key: Option<&str>,
    project: Option<&str>,
    request_id: Option<&str>,
) -> Request<String> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .extension(ClientAddr(SocketAddr::from(([203, 0, 113, 7], 40_000))));
    for (name, value) in [
        ("x-api-key", key),
        ("x-project-id", project),
        ("x-request-id", request_id),
    ] {
        if let Some(value) = value {
            builder = builder.header(name, value);
        }
    }
    builder.body(String::new()).unwrap()
}

/// One call of the outcomes case, and what its response and its event must say.
struct Case {
    what: &'static str,
    request: Request<String>,
    status: u16,
    outcome: &'static str,
    /// The key id of an authenticated call; `None` when the call was not authenticated.
    key_id: Option<&'static str>,
    /// The well-formed `X-Request-Id` sent, which must be kept.
    kept_id: Option<&'static str>,
}

#[tokio::test]
async fn each_rejection_kind_is_recorded_with_its_outcome_and_who_called() {
    let fixture = Fixture::new().await;
    let revoked = ApiKey::generate(Environment::Development).unwrap();
    let record = KeyRecord::new(
        "key_revoked",
        revoked.hash(),
        PROJECT,
        Environment::Development,
    );
    fixture.store.insert(record, T0).await.unwrap();
    fixture.store.revoke("key_revoked", T0).await.unwrap();
    let limited = ApiKey::generate(Environment::Development).unwrap();
    let record = KeyRecord::new(
        "key_limited",
        limited.hash(),
        PROJECT,
        Environment::Development,
    )
    .with_limits(Some(1), None);
    fixture.store.insert(record, T0).await.unwrap();

    let sink = MemoryAuditSink::new();
    let config = AuditLogConfig::new().with_clock(fixture.clock.clone());
    let log = AuditLog::start(sink.clone(), config).unwrap();
    // One add a month for the project: the second add is degraded.
    let plans = QuotaPlans::new().with_plan(PROJECT, Plan::new(1, 1_000));
    let service = audited_pipeline(&fixture, &log, plans);

    let (key, revoked, limited) = (
        Some(fixture.secret()),
        Some(revoked.expose_secret()),
        Some(limited.expose_secret()),
    );
    let project = Some(PROJECT);
    let long_id = "r".repeat(300);
    let case = |what, request, status, outcome, key_id| Case {
        what,
        request,
        status,
        outcome,
        key_id,
        kept_id: None,
    };
    let cases = [
        Case {
            kept_id: Some("abc-123"),
            ..case(
                "allowed, with its own request id",
                call(Method::GET, "/v1/memories", key, project, Some("abc-123")),
                200,
                "allowed",
                Some(KEY_ID),
            )
        },
        case(
            "no key",
            call(Method::GET, "/v1/memories", None, project, None),
            401,
            "unauthenticated",
            None,
        ),
        case(
            "a revoked key",
            call(Method::GET, "/v1/memories", revoked, project, None),
            401,
            "unauthenticated",
            None,
        ),
        case(
            "another project",
            call(Method::GET, "/v1/memories", key, Some("proj_other"), None),
            403,
            "forbidden",
            Some(KEY_ID),
        ),
        case(
            "no project id, a 300-character request id",
            call(Method::GET, "/v1/memories", key, None, Some(&long_id)),
            400,
            "forbidden",
            Some(KEY_ID),
        ),
        case(
            "the limited key's first call",
            call(Method::GET, "/v1/memories", limited, project, None),
            200,
            "allowed",
            Some("key_limited"),
        ),
        case(
            "the limited key's second call in the second, a request id with a space",
            call(
                Method::GET,
                "/v1/memories",
                limited,
                project,
                Some("has space"),
            ),
            429,
            "rate_limited",
            Some("key_limited"),
        ),
        case(
            "the month's one add",
            call(Method::POST, "/v1/memories", key, project, None),
            200,
            "allowed",
            Some(KEY_ID),
        ),
        case(
            "an add past the quota",
            call(Method::POST, "/v1/memories", key, project, None),
            200,
            "degraded",
            Some(KEY_ID),
        ),
        case(
            "a 500 from the inner service",
            call(Method::GET, "/v1/fail", key, project, None),
            500,
            "error",
            Some(KEY_ID),
        ),
    ];

    let mut answered = Vec::new();
    for case in cases {
        let (method, path) = (
            case.request.method().clone(),
            case.request.uri().to_string(),
        );
        let reply: Reply = send(service.clone(), case.request).await;
        assert_eq!(reply.status, case.status, "{}: {reply:?}", case.what);
        let request_id = reply.header("x-request-id").to_owned();
        match case.kept_id {
            Some(sent) => assert_eq!(request_id, sent, "{}: the id is kept", case.what),
            None => assert!(
                request_id.starts_with("req_"),
                "{}: {request_id}",
                case.what
            ),
        }
        answered.push((
            case.what,
            method,
            path,
            case.status,
            case.outcome,
            case.key_id,
            request_id,
        ));
    }
    log.flush().await;

    let lines = sink.lines();
    assert_verifies(&lines, log.head());
    let events = parsed(&lines);
    assert_eq!(events.len(), answered.len());
    let mut seen_ids = HashSet::new();
    for (event, (what, method, path, status, outcome, key_id, request_id)) in
        events.iter().zip(answered)
    {
        assert_eq!(event["method"], method.as_str(), "{what}: {event}");
        assert_eq!(event["path"], path, "{what}: {event}");
        assert_eq!(event["status"], status, "{what}: {event}");
        assert_eq!(event["outcome"], outcome, "{what}: {event}");
        assert_eq!(event["request_id"], request_id.as_str(), "{what}: {event}");
        assert!(seen_ids.insert(request_id), "{what}: request id reused");
        assert_eq!(event["ts"], T0.to_rfc3339(), "{what}: {event}");
        assert_eq!(event["client_ip"], "203.0.113.7", "{what}: {event}");
        assert!(event["latency_us"].is_u64(), "{what}: {event}");
        match key_id {
            Some(id) => {
                assert_eq!(event["key_id"], id, "{what}: {event}");
                assert_eq!(event["project"], PROJECT, "{what}: {event}");
                assert_eq!(event["environment"], "development", "{what}: {event}");
            }
            None => {
                for field in ["key_id", "project", "environment"] {
                    assert!(event[field].is_null(), "{what}: `{field}` set in {event}");
                }
            }
        }
    }
    assert_eq!(log.stats().written, events.len() as u64);
}

// ----- 8. what never reaches the log ---------------------------------------------------------

/// Sends the key in every place a client might (Authorization, X-API-Key and the query), with an
/// oversized and a non-UTF-8 user agent, through a pipeline recording into `log`.
async fn send_secrets(fixture: &Fixture, log: &AuditLog) {
    let pipeline = PipelineBuilder::new()
        .stage(AuditRecordLayer::new(log.clone()).with_clock(fixture.clock.clone()))
        .stage(fixture.auth_layer())
        .stage(ProjectScopeLayer::new())
        .into_layer();
    let service = ServiceBuilder::new().layer(pipeline).service(ok_service());
    let secret = fixture.secret();
    let keyed = |path: &str, user_agent: HeaderValue| {
        Request::get(path)
            .header("authorization", fixture.bearer())
            .header("x-api-key", secret)
            .header("x-project-id", PROJECT)
            .header("user-agent", user_agent)
            .body(String::new())
            .unwrap()
    };
    let with_query = format!("/v1/memories?api_key={secret}&q=x");
    let long_agent = HeaderValue::from_bytes(&vec![b'a'; 64 * 1024]).unwrap();
    let binary_agent = HeaderValue::from_bytes(b"probe/1.0 \xff\xfe").unwrap();
    let requests = [
        keyed(&with_query, HeaderValue::from_static("curl/8.0")),
        keyed(&with_query, long_agent),
        keyed("/v1/memories", binary_agent),
        // The key in the query only: refused, and still not logged.
        get(&with_query),
    ];
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(send(service.clone(), request).await.status.as_u16());
        }
        statuses
    };
    assert_eq!(statuses, [200, 200, 200, 401]);
    log.flush().await;
}

/// The events of `send_secrets`: paths without queries, user agents cut or escaped, no key.
#[track_caller]
fn assert_no_secrets(lines: &[String], head: ChainHead) {
    assert_eq!(lines.len(), 4);
    assert_verifies(lines, head);
    for line in lines {
        assert!(!line.contains("msk_"), "a key in the log: {line}");
        assert!(
            !line.contains("api_key"),
            "a query string in the log: {line}"
        );
        assert!(!line.contains('?'), "a query string in the log: {line}");
    }
    let events = parsed(lines);
    for event in &events {
        assert_eq!(event["path"], "/v1/memories", "{event}");
    }
    assert_eq!(events[0]["user_agent"], "curl/8.0");
    assert_eq!(
        events[0]["key_id"], KEY_ID,
        "the key id, not the key, is recorded"
    );

    let long = events[1]["user_agent"].as_str().unwrap();
    assert!(
        long.ends_with('…'),
        "not marked as cut: {}",
        &long[long.len() - 10..]
    );
    assert!(
        long.len() <= MAX_USER_AGENT + '…'.len_utf8(),
        "{} bytes",
        long.len()
    );
    assert!(
        long.len() >= MAX_USER_AGENT - 4,
        "cut too short: {} bytes",
        long.len()
    );
    assert!(long.trim_end_matches('…').bytes().all(|b| b == b'a'));

    assert_eq!(events[2]["user_agent"], r"probe/1.0 \xff\xfe");
    assert_eq!(events[3]["outcome"], "unauthenticated");
    assert!(events[3]["user_agent"].is_null());
}

#[tokio::test]
async fn keys_and_query_strings_never_reach_the_memory_sink_and_user_agents_are_cleaned() {
    let fixture = Fixture::new().await;
    let sink = MemoryAuditSink::new();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    send_secrets(&fixture, &log).await;
    assert_no_secrets(&sink.lines(), log.head());
}

#[tokio::test]
async fn keys_and_query_strings_never_reach_the_json_lines_files() {
    let fixture = Fixture::new().await;
    let dir = TempDir::new("secrets");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    send_secrets(&fixture, &log).await;
    assert_no_secrets(&sink.read_lines().unwrap(), log.head());
    for segment in sink.segments().unwrap() {
        let bytes = fs::read(&segment).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"msk_"),
            "a key in {}",
            segment.display()
        );
        assert!(
            std::str::from_utf8(&bytes).is_ok(),
            "the segment is not UTF-8"
        );
    }
}

// ----- 9. tombstones -------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_writer_removes_tombstones_left_by_handlers_once_they_expire() {
    let clock = ManualClock::new(T0);
    let tombstones = MemoryTombstones::new(DAY);
    let sink = MemoryAuditSink::new();
    let config = AuditLogConfig::new()
        .with_tombstones(tombstones.clone())
        .with_clock(clock.clone())
        .with_maintenance_every(MAINTENANCE);
    let log = AuditLog::start(sink.clone(), config).unwrap();

    // A handler deleting a memory leaves a tombstone through the extension it is handed.
    let handler_clock = clock.clone();
    let inner = service_fn(move |request: Request<String>| {
        let clock = handler_clock.clone();
        async move {
            let id = request.uri().path().rsplit('/').next().unwrap().to_owned();
            let Some(tombstones) = request.extensions().get::<MemoryTombstones>().cloned() else {
                let mut response = Response::new(Full::new(Bytes::from_static(b"no tombstones")));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return Ok::<_, Infallible>(response);
            };
            tombstones
                .leave(TombstoneKind::Memory, &id, clock.now())
                .await
                .unwrap();
            Ok(Response::new(Full::new(Bytes::new())))
        }
    });
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .with_tombstones(tombstones.clone())
        .layer(inner);
    for id in ["mem_1", "mem_2"] {
        let path = format!("/v1/memories/{id}");
        let response = service
            .clone()
            .oneshot(request(Method::DELETE, &path))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(tombstones.len(), 2);
    assert!(
        tombstones
            .contains(TombstoneKind::Memory, "mem_1", clock.now())
            .await
            .unwrap()
    );

    // A second short of a day: the maintenance run keeps them.
    clock.advance(DAY - Duration::from_secs(1));
    elapse(MAINTENANCE + Duration::from_secs(1)).await;
    log.flush().await;
    assert_eq!(tombstones.len(), 2);

    // Past a day: the next run removes them, with no call from the test.
    clock.advance(Duration::from_secs(2));
    elapse(MAINTENANCE).await;
    log.flush().await;
    assert_eq!(tombstones.len(), 0);
    assert_eq!(sink.len(), 2);
}

// ----- 10. restart ---------------------------------------------------------------------------

/// Runs `events` requests through a new log on `dir` in a runtime of its own, flushes, and
/// shuts the runtime down; returns the head the log recorded, and the head it started from.
fn run_once(dir: &Path, clock: &ManualClock, events: usize) -> (ChainHead, ChainHead) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sink = JsonLinesSink::new(dir).unwrap();
        let log = AuditLog::start(sink, AuditLogConfig::new().with_clock(clock.clone())).unwrap();
        let started_at = log.head();
        let service = AuditRecordLayer::new(log.clone())
            .with_clock(clock.clone())
            .layer(ok_service());
        for i in 0..events {
            let response = service
                .clone()
                .oneshot(get(&format!("/v1/memories/{i}")))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            clock.advance(Duration::from_secs(1));
        }
        log.flush().await;
        (log.head(), started_at)
    })
}

#[test]
fn the_json_lines_chain_goes_on_across_a_restart() {
    let dir = TempDir::new("restart");
    let clock = ManualClock::new(at(0));
    let (first_head, started) = run_once(dir.path(), &clock, 3);
    assert_eq!(started, ChainHead::default());
    assert_eq!(first_head.seq, 3);

    // The process restarts the next day.
    clock.set(at(86_400));
    let (second_head, started) = run_once(dir.path(), &clock, 4);
    assert_eq!(
        started, first_head,
        "the new log continues from the file's last line"
    );
    assert_eq!(second_head.seq, 7);

    let sink = JsonLinesSink::new(dir.path()).unwrap();
    assert_eq!(sink.segments().unwrap().len(), 2);
    let lines = sink.read_lines().unwrap();
    let seqs: Vec<u64> = parsed(&lines)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    assert_verifies(&lines, second_head);
    assert_eq!(sink.head().unwrap(), second_head);
}

/// A call whose future is dropped before the inner service answers (the client went away) is
/// still recorded, as 499 `error`.
#[tokio::test]
async fn a_call_abandoned_by_its_client_is_still_recorded() {
    use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
    use tower::{Layer, Service, ServiceExt};

    let sink = MemoryAuditSink::new();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let never = tower::service_fn(|_: http::Request<String>| async {
        std::future::pending::<Result<http::Response<String>, std::convert::Infallible>>().await
    });
    let mut service = AuditRecordLayer::new(log.clone()).layer(never);
    let request = http::Request::get("/v1/memories/search")
        .body(String::new())
        .unwrap();
    {
        let mut call = std::pin::pin!(service.ready().await.unwrap().call(request));
        // Polled once, then abandoned.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(std::future::Future::poll(call.as_mut(), &mut cx).is_pending());
    }
    log.flush().await;
    let lines = sink.lines();
    assert_eq!(lines.len(), 1);
    let event: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        (event["status"].as_u64(), event["outcome"].as_str()),
        (Some(499), Some("error"))
    );
    assert_eq!(event["path"], "/v1/memories/search");
}
