//! The audit chain through time and failure, as scenarios over any log that keeps its lines
//! across processes (JSON Lines files, a Redis stream): a request in flight across midnight, a
//! tail cut off, a log emptied at its end, each followed by a restart. Each process is a
//! current-thread runtime of its own that ends (dropping the writer and its sink) when the
//! phase does; the event times come from a `ManualClock`. [`Files`] is the JSON Lines log;
//! the Redis stream's is beside its tests. Shared by the crate's tests and the `memorysync`
//! binary's (which includes this file by path), so it needs nothing else of `tests/common`.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{Request, Response};
use memorysync_pipeline::audit::{
    AuditLog, AuditLogConfig, AuditRecordLayer, AuditSink, ChainHead, ENDS_BEFORE_CHECKPOINT,
    JsonLinesSink, RECOVERY_METHOD, verify,
};
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use serde_json::Value;
use tower::{Layer, Service, ServiceExt, service_fn};

/// A log the scenarios write through its sink and read, cut and empty behind its back.
pub(crate) trait CrashLog {
    /// The writer's sink.
    type Sink: AuditSink;
    /// A writer on the log, as a new process opens it.
    fn open(&self) -> Self::Sink;
    /// Every line, oldest first.
    fn lines(&self) -> Vec<String>;
    /// The head checkpoint kept beside the lines.
    fn checkpoint(&self) -> Option<ChainHead>;
    /// Removes the last `n` lines, as a careless hand would.
    fn cut_last(&self, n: usize);
    /// Leaves the log's end empty: a new empty segment (rotation), or a stream trimmed empty.
    fn empty_the_end(&self);
}

/// 2027-01-15T08:00:00Z.
pub(crate) const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

/// 2027-01-15T23:59:59.500Z: half a second before midnight.
pub(crate) const BEFORE_MIDNIGHT: Timestamp = Timestamp::from_unix_millis(1_800_057_599_500);

/// A directory of JSON Lines segments, removed at the end.
pub(crate) struct Files(tempfile::TempDir);

impl Files {
    pub(crate) fn new() -> Self {
        Files(tempfile::tempdir().unwrap())
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }

    pub(crate) fn reader(&self) -> JsonLinesSink {
        JsonLinesSink::reader(self.path())
    }

    pub(crate) fn segment_names(&self) -> Vec<String> {
        let segments = self.reader().segments().unwrap();
        segments
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    pub(crate) fn newest_segment(&self) -> PathBuf {
        self.reader().segments().unwrap().pop().unwrap()
    }

    /// Appends `bytes` to the newest segment, as a write cut short leaves them.
    pub(crate) fn tear(&self, bytes: &[u8]) {
        let segment = self.newest_segment();
        let mut text = fs::read(&segment).unwrap();
        text.extend_from_slice(bytes);
        fs::write(&segment, text).unwrap();
    }
}

impl CrashLog for Files {
    type Sink = JsonLinesSink;

    fn open(&self) -> JsonLinesSink {
        // A process another test spawns meanwhile holds a copy of the lock's descriptor from its
        // fork until its exec closes it: the lock of a process that ended is then released a
        // moment late.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match JsonLinesSink::new(self.path()) {
                Ok(sink) => return sink,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(std::time::Instant::now() < deadline, "{e}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn lines(&self) -> Vec<String> {
        self.reader().read_lines().unwrap()
    }

    fn checkpoint(&self) -> Option<ChainHead> {
        self.reader().checkpoint().unwrap()
    }

    fn cut_last(&self, n: usize) {
        let segment = self.newest_segment();
        let text = fs::read_to_string(&segment).unwrap();
        let kept: Vec<&str> = text.lines().collect();
        assert!(kept.len() >= n, "the scenarios cut within one segment");
        let mut kept = kept[..kept.len() - n].join("\n");
        kept.push('\n');
        fs::write(&segment, kept).unwrap();
    }

    fn empty_the_end(&self) {
        let newest = self.newest_segment();
        let name = newest.file_name().unwrap().to_str().unwrap();
        let day = Timestamp::parse_rfc3339(&format!("{}T00:00:00Z", &name[6..16])).unwrap();
        let next = segment_name(day.saturating_add(Duration::from_secs(86_400)));
        fs::write(self.path().join(next), "").unwrap();
    }
}

/// The segment file name of `ts`'s UTC day.
pub(crate) fn segment_name(ts: Timestamp) -> String {
    format!("audit-{}.jsonl", &ts.to_rfc3339()[..10])
}

/// One process's audit log, and a way to send it requests.
pub(crate) struct Process {
    pub(crate) log: AuditLog,
    pub(crate) clock: ManualClock,
}

impl Process {
    /// The audit stage, on this process's clock, over a service that answers 200.
    pub(crate) fn service(
        &self,
    ) -> impl Service<Request<String>, Response = Response<String>, Error = Infallible> + Clone + use<>
    {
        AuditRecordLayer::new(self.log.clone())
            .with_clock(self.clock.clone())
            .layer(service_fn(|_: Request<String>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }))
    }

    /// One request to `path`, answered 200, at the clock's time, then a second on the clock.
    pub(crate) async fn request(&self, path: &str) {
        let request = Request::get(path).body(String::new()).unwrap();
        let response = self.service().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        self.clock.advance(Duration::from_secs(1));
    }
}

/// Runs `phase` as one process on `log`: a new `AuditLog` on `log.open()`, flushed at the end,
/// in a runtime that then ends.
pub(crate) fn run_process<L: CrashLog, T, F>(
    log: &L,
    clock: &ManualClock,
    phase: impl FnOnce(Process) -> F,
) -> T
where
    F: Future<Output = (Process, T)>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = AuditLogConfig::new().with_clock(clock.clone());
        let log = AuditLog::start(log.open(), config).expect("the audit log starts");
        let process = Process {
            log,
            clock: clock.clone(),
        };
        let (process, out) = phase(process).await;
        process.log.flush().await;
        out
    })
}

/// `n` requests, then the head; the process then stops.
pub(crate) fn write_events<L: CrashLog>(log: &L, clock: &ManualClock, n: usize) -> ChainHead {
    run_process(log, clock, |process| async move {
        for i in 0..n {
            process.request(&format!("/v1/memories/{i}")).await;
        }
        process.log.flush().await;
        let head = process.log.head();
        (process, head)
    })
}

pub(crate) fn parsed(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

pub(crate) fn seqs(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| parsed(l)["seq"].as_u64().unwrap())
        .collect()
}

#[track_caller]
pub(crate) fn assert_verifies(lines: &[String], head: Option<ChainHead>) {
    assert_eq!(
        verify(lines.iter().map(String::as_str), head),
        Ok(lines.len()),
        "the chain does not verify to {head:?}: {lines:#?}"
    );
}

/// A request arrives at 23:59:59.5 and is answered after one that arrived at 00:00:00.5: the
/// chain holds them in the order they finished, each line with its arrival time, and the log
/// files them in that order, so it verifies and a restart goes on from the true head (seq 2,
/// the request that spanned midnight). Returns the lines.
pub(crate) fn a_request_in_flight_at_midnight_then_a_restart<L: CrashLog>(log: &L) -> Vec<String> {
    let clock = ManualClock::new(BEFORE_MIDNIGHT);
    let head = run_process(log, &clock, |process| async move {
        let mut spanning = process.service();
        let request = Request::get("/v1/memories/spanning")
            .body(String::new())
            .unwrap();
        // Called (its arrival stamped) but not answered before midnight.
        let in_flight = spanning.ready().await.unwrap().call(request);
        process.clock.advance(Duration::from_secs(1));
        process.request("/v1/memories/after-midnight").await;
        let response = in_flight.await.unwrap();
        assert_eq!(response.status(), 200);
        process.log.flush().await;
        let head = process.log.head();
        (process, head)
    });
    assert_eq!(head.seq, 2);
    let lines = log.lines();
    assert_verifies(&lines, Some(head));
    assert_eq!(log.checkpoint(), Some(head));
    let second = parsed(&lines[1]);
    assert_eq!(second["path"], "/v1/memories/spanning");
    assert_eq!(
        second["ts"],
        BEFORE_MIDNIGHT.to_rfc3339(),
        "each line keeps its request's arrival time"
    );

    let (started_from, head) = run_process(log, &clock, |process| async move {
        let started_from = process.log.head();
        process.request("/v1/memories/next-day").await;
        process.log.flush().await;
        let head = process.log.head();
        (process, (started_from, head))
    });
    assert_eq!(
        started_from.seq, 2,
        "the restart goes on from the true head"
    );
    assert_eq!(head.seq, 3);
    let lines = log.lines();
    assert_eq!(seqs(&lines), [1, 2, 3]);
    assert_verifies(&lines, Some(head));
    lines
}

/// Five events; the last two cut off the log: `verify` against the checkpoint finds the cut.
/// The next process goes on from the last line left, its first event a `RECOVERY` declaring the
/// cut, and the log verifies again, to the new checkpoint. Returns the lines.
pub(crate) fn a_cut_tail_is_found_then_declared_by_the_restart<L: CrashLog>(
    log: &L,
) -> Vec<String> {
    let clock = ManualClock::new(T0);
    let head = write_events(log, &clock, 5);
    assert_eq!(log.checkpoint(), Some(head));
    log.cut_last(2);
    let lines = log.lines();
    assert_eq!(seqs(&lines), [1, 2, 3]);
    let cut = verify(lines.iter().map(String::as_str), log.checkpoint());
    assert!(
        cut.is_err(),
        "a cut tail verifies to its checkpoint: {cut:?}"
    );

    let (started_from, head) = run_process(log, &clock, |process| async move {
        let started_from = process.log.head();
        process.request("/v1/memories/after").await;
        process.log.flush().await;
        let head = process.log.head();
        (process, (started_from, head))
    });
    assert_eq!(
        started_from.seq, 3,
        "the chain goes on from the last line left"
    );
    let lines = log.lines();
    assert_eq!(seqs(&lines), [1, 2, 3, 4, 5]);
    assert_verifies(&lines, log.checkpoint());
    assert_eq!(log.checkpoint(), Some(head));
    let recovery = parsed(&lines[3]);
    assert_eq!(recovery["method"], RECOVERY_METHOD);
    let detail = recovery["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(ENDS_BEFORE_CHECKPOINT)
            && detail.contains(" checkpoint_seq=5 ")
            && detail.ends_with(" log_ends_at_seq=3 resumed_after_seq=3"),
        "{detail}"
    );
    lines
}

/// Three events, then the log's end emptied behind the writer's back: the next process goes on
/// at seq 4, not 1, and records nothing (nothing was lost).
pub(crate) fn an_emptied_end_does_not_restart_the_chain<L: CrashLog>(log: &L) {
    let clock = ManualClock::new(T0);
    let first = write_events(log, &clock, 3);
    log.empty_the_end();
    clock.advance(Duration::from_secs(86_400));
    let head = write_events(log, &clock, 1);
    assert_eq!(head.seq, 4, "the chain restarted");
    let lines = log.lines();
    let last = parsed(lines.last().unwrap());
    assert_eq!(last["seq"], 4);
    assert_eq!(last["prev"], first.hash_hex(), "seq 4 follows seq 3");
    assert_ne!(last["method"], RECOVERY_METHOD);
    assert_verifies(&lines, Some(head));
}
