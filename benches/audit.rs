//! The audit stage's cost: events per second sustained into the JSON Lines sink, the latency
//! the stage adds per request (p50, p99), next to the same requests without it, and how long a
//! single event takes to be written (`flush`), each with the segments synced every batch
//! (`Fsync::Batch`, the default) and without (`Fsync::Off`).
//!
//! `cargo bench --bench audit`; figures go into BENCHMARKS.md. The segments go under the system
//! temporary directory: it has to be on a real disk for the sync to cost what it does.
#![allow(missing_docs, clippy::unwrap_used)]

use std::convert::Infallible;
use std::time::{Duration, Instant};

use memorysync_pipeline::audit::{
    AuditLog, AuditLogConfig, AuditRecordLayer, Fsync, JsonLinesSink,
};
use tower::{Layer, Service, ServiceExt, service_fn};

const EVENTS: usize = 300_000;
const LATENCY_SAMPLES: usize = 100_000;
/// Single events each waited for until written: the time one line takes to reach the disk
/// when nothing else is queued.
const FLUSH_SAMPLES: usize = 500;

fn request(i: usize) -> http::Request<()> {
    http::Request::get("/v1/memories")
        .header("user-agent", "memorysync-bench/1.0")
        .header("x-request-id", format!("bench-{i}"))
        .body(())
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn timed<S>(service: &mut S, n: usize) -> Vec<Duration>
where
    S: Service<http::Request<()>, Response = http::Response<()>, Error = Infallible>,
{
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let response = service
            .ready()
            .await
            .unwrap()
            .call(request(i))
            .await
            .unwrap();
        times.push(start.elapsed());
        std::hint::black_box(response);
    }
    times.sort();
    times
}

async fn run(round: usize, fsync: Fsync) {
    let dir = std::env::temp_dir().join(format!(
        "memorysync-audit-bench-{}-{round}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let sink = JsonLinesSink::new(&dir).unwrap().with_fsync(fsync);
    let log = AuditLog::start(sink, AuditLogConfig::new()).unwrap();
    let inner =
        service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) });
    let mut audited = AuditRecordLayer::new(log.clone()).layer(inner);
    let mut bare = inner;
    println!("fsync = {fsync:?}");

    // Throughput: requests as fast as one task can send them, until all are written.
    let start = Instant::now();
    for i in 0..EVENTS {
        audited
            .ready()
            .await
            .unwrap()
            .call(request(i))
            .await
            .unwrap();
    }
    log.flush().await;
    let elapsed = start.elapsed();
    let stats = log.stats();
    assert_eq!(stats.written as usize, EVENTS);
    assert_eq!(stats.dropped, 0);
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "  throughput: {EVENTS} events into JSON Lines in {:.3} s = {:.0} events/s sustained ({} bytes, {:.0} bytes/event, {} waited for room)",
        elapsed.as_secs_f64(),
        EVENTS as f64 / elapsed.as_secs_f64(),
        bytes,
        bytes as f64 / EVENTS as f64,
        stats.waited_for_room,
    );

    // Latency: the same request with and without the stage, one pass each.
    let without = timed(&mut bare, LATENCY_SAMPLES).await;
    let with = timed(&mut audited, LATENCY_SAMPLES).await;
    log.flush().await;
    for (name, p) in [("p50", 0.50), ("p99", 0.99), ("p99.9", 0.999)] {
        let (a, b) = (percentile(&without, p), percentile(&with, p));
        println!(
            "  request latency {name}: without {:>7.2} µs, with AuditRecord {:>7.2} µs, added {:>6.2} µs",
            micros(a),
            micros(b),
            micros(b.saturating_sub(a))
        );
    }

    // Until written: one event, then `flush`, which returns once its batch is written (and,
    // with `Fsync::Batch`, synced and checkpointed).
    let mut written = Vec::with_capacity(FLUSH_SAMPLES);
    for i in 0..FLUSH_SAMPLES {
        let start = Instant::now();
        audited
            .ready()
            .await
            .unwrap()
            .call(request(i))
            .await
            .unwrap();
        log.flush().await;
        written.push(start.elapsed());
    }
    written.sort();
    println!(
        "  one event until written: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        micros(percentile(&written, 0.50)),
        micros(percentile(&written, 0.99)),
        micros(written[written.len() - 1]),
    );
    drop(audited);
    log.close(Duration::from_secs(5)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Two rounds, alternating, so that a neighbour's load on the machine shows as a spread.
        for (round, fsync) in [Fsync::Batch, Fsync::Off, Fsync::Batch, Fsync::Off]
            .into_iter()
            .enumerate()
        {
            run(round, fsync).await;
        }
    });
}
