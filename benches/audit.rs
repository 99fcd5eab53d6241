//! The audit stage's cost: events per second sustained into the JSON Lines sink, and the latency
//! the stage adds per request (p50, p99), next to the same requests without it.
//!
//! `cargo bench --bench audit`; figures go into BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

use std::convert::Infallible;
use std::time::{Duration, Instant};

use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, JsonLinesSink};
use tower::{Layer, Service, ServiceExt, service_fn};

const EVENTS: usize = 300_000;
const LATENCY_SAMPLES: usize = 100_000;

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
        let dir = std::env::temp_dir().join(format!("memorysync-audit-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = AuditLog::start(JsonLinesSink::new(&dir).unwrap(), AuditLogConfig::new()).unwrap();
        let inner = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) });
        let mut audited = AuditRecordLayer::new(log.clone()).layer(inner);
        let mut bare = inner;

        // Throughput: requests as fast as one task can send them, until all are on disk.
        let start = Instant::now();
        for i in 0..EVENTS {
            audited.ready().await.unwrap().call(request(i)).await.unwrap();
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
            "throughput: {EVENTS} events into JSON Lines in {:.3} s = {:.0} events/s sustained ({} bytes, {:.0} bytes/event, {} waited for room)",
            elapsed.as_secs_f64(),
            EVENTS as f64 / elapsed.as_secs_f64(),
            bytes,
            bytes as f64 / EVENTS as f64,
            stats.waited_for_room,
        );

        // Latency: the same request with and without the stage, interleaved in two passes.
        let without = timed(&mut bare, LATENCY_SAMPLES).await;
        let with = timed(&mut audited, LATENCY_SAMPLES).await;
        log.flush().await;
        for (name, p) in [("p50", 0.50), ("p99", 0.99), ("p99.9", 0.999)] {
            let (a, b) = (percentile(&without, p), percentile(&with, p));
            println!(
                "latency {name}: without {:>7.2} µs, with AuditRecord {:>7.2} µs, added {:>6.2} µs",
                a.as_secs_f64() * 1e6,
                b.as_secs_f64() * 1e6,
                (b.saturating_sub(a)).as_secs_f64() * 1e6
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    });
}
