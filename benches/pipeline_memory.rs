//! Memory of the whole pipeline after one million distinct keys have each made one admitted
//! request: peak and current RSS, live heap bytes per key, and the rate limiter's tracked keys
//! against its bound. Run twice, each in a fresh process so that the peak is its own: with the
//! default bound (2^20 keys, all tracked) and with a bound of 100,000 (the keys past it are
//! refused, the limiter's memory stays flat).
//!
//! `cargo bench --bench pipeline_memory`; figures go into BENCHMARKS.md. Run as a test (without
//! `--bench`, e.g. `cargo test --benches`) it makes the same checks on 20,000 keys.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

mod common;

use std::num::NonZeroU32;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use counting_alloc::{Counting, live_bytes};
use http::{HeaderValue, StatusCode};
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig};
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
use memorysync_pipeline::limit::{SlidingWindowLimiter, SlidingWindowRateLimitLayer};
use memorysync_pipeline::quota::{Plan, QuotaPlans};
use memorysync_pipeline::tombstone::MemoryTombstones;
use tower::{Service, ServiceExt};

use common::{DiscardSink, PROJECT, RequestSpec, Stages, full_pipeline, handler, nth_key};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KEYS: u64 = 1_000_000;
/// Keys of a run as a test.
const SMOKE_KEYS: u64 = 20_000;
/// The smaller bound of the second run, as a share of the keys: 100,000 of a million.
const SMALL_BOUND_DIVISOR: u64 = 10;
const BOUND_VAR: &str = "PIPELINE_MEMORY_BOUND";
const KEYS_VAR: &str = "PIPELINE_MEMORY_KEYS";

/// A `/proc/self/status` field in bytes (the kernel gives kB).
fn proc_status(field: &str) -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse::<i64>().ok())
        .map_or(-1, |kb| kb * 1024)
}

#[derive(Clone, Copy)]
struct Reading {
    heap: i64,
    rss: i64,
}

fn reading() -> Reading {
    Reading {
        heap: live_bytes() as i64,
        rss: proc_status("VmRSS"),
    }
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn per_key(from: Reading, to: Reading, keys: u64) -> String {
    format!(
        "heap {:+8.1} MiB = {:6.1} B/key, RSS {:+8.1} MiB = {:6.1} B/key",
        mib(to.heap - from.heap),
        (to.heap - from.heap) as f64 / keys as f64,
        mib(to.rss - from.rss),
        (to.rss - from.rss) as f64 / keys as f64,
    )
}

/// One run, in this process: `keys` keys in the store, one admitted request each.
fn run(bound: usize, keys: u64) {
    println!("\n== limiter bound {bound}, {keys} keys ==");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tombstones = MemoryTombstones::new(MemoryTombstones::DEFAULT_KEEP_FOR);
    let sink = DiscardSink::default();
    let log = {
        let _entered = runtime.enter();
        AuditLog::start(
            sink.clone(),
            AuditLogConfig::new().with_tombstones(tombstones.clone()),
        )
        .unwrap()
    };
    let start = reading();

    // Keys as the config file loads them: an id and a project string of their own each.
    let clock = Instant::now();
    let store = MemoryKeyStore::with_tombstones(tombstones.clone());
    runtime.block_on(async {
        for i in 0..keys {
            let key = ApiKey::parse_bytes(&nth_key(i)).unwrap();
            let record = KeyRecord::new(
                format!("key_{i:07}"),
                key.hash(),
                PROJECT,
                Environment::Development,
            )
            .with_limits(Some(10), Some(300));
            store.insert(record, Timestamp::EPOCH).await.unwrap();
        }
    });
    let loaded = reading();
    println!(
        "key store:        {keys} records in {:.1} s; {}",
        clock.elapsed().as_secs_f64(),
        per_key(start, loaded, keys)
    );

    let limiter = SlidingWindowLimiter::new(bound);
    let limiter_layer = SlidingWindowRateLimitLayer::from_store(limiter);
    let limiter = Arc::clone(limiter_layer.store());
    let mut service = full_pipeline(
        handler(),
        Stages {
            keys: store,
            log: log.clone(),
            tombstones,
            health_rps: NonZeroU32::MIN,
            limiter: limiter_layer,
            plans: QuotaPlans::new().with_plan(PROJECT, Plan::new(1 << 62, 1 << 62)),
        },
    );
    let clock = Instant::now();
    let (mut admitted, mut refused) = (0u64, 0u64);
    // The heap when the limiter reaches its bound, to show it flat from there on.
    let mut at_bound = None;
    runtime.block_on(async {
        for i in 0..keys {
            if i == bound as u64 {
                log.flush().await;
                at_bound = Some(reading());
            }
            let key = nth_key(i);
            let mut value = Vec::with_capacity(7 + key.len());
            value.extend_from_slice(b"Bearer ");
            value.extend_from_slice(&key);
            let spec = RequestSpec::search(
                Some(HeaderValue::from_bytes(&value).unwrap()),
                Some(PROJECT),
            );
            let response = service
                .ready()
                .await
                .unwrap()
                .call(spec.build())
                .await
                .unwrap();
            match response.status() {
                StatusCode::OK => admitted += 1,
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                other => panic!("request {i}: unexpected {other}"),
            }
        }
        log.flush().await;
    });
    let served = reading();
    let elapsed = clock.elapsed().as_secs_f64();
    println!(
        "requests:         {keys} in {elapsed:.1} s ({:.0}/s): {admitted} admitted, {refused} refused (429)",
        keys as f64 / elapsed
    );
    println!("limiter + usage:  {}", per_key(loaded, served, keys));
    if let Some(at_bound) = at_bound {
        let past = keys - bound as u64;
        println!(
            "past the bound:   the last {past} keys (refused) changed the heap by {:+.1} MiB ({:.1} B/key)",
            mib(served.heap - at_bound.heap),
            (served.heap - at_bound.heap) as f64 / past as f64
        );
    }
    let tracked = limiter.tracked_keys();
    println!(
        "limiter:          tracks {tracked} keys, bound {} ({}); {:.1} heap bytes per tracked key",
        limiter.max_keys(),
        if tracked <= limiter.max_keys() {
            "held"
        } else {
            "EXCEEDED"
        },
        (served.heap - loaded.heap) as f64 / tracked.max(1) as f64,
    );
    let stats = log.stats();
    println!(
        "audit:            {} events written to a discarding sink, {} waited for room, {} lost",
        sink.written(),
        stats.waited_for_room,
        stats.dropped
    );
    println!(
        "whole pipeline:   {} (from before the key store)",
        per_key(start, served, keys)
    );
    println!(
        "process:          peak RSS (VmHWM) {:.1} MiB, current RSS {:.1} MiB, live heap {:.1} MiB",
        mib(proc_status("VmHWM")),
        mib(served.rss),
        mib(served.heap)
    );
    assert!(tracked <= limiter.max_keys());
    assert_eq!(admitted as usize, tracked.min(keys as usize));
    drop(service);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks every bench target for its benchmarks
    }
    if let (Ok(bound), Ok(keys)) = (std::env::var(BOUND_VAR), std::env::var(KEYS_VAR)) {
        run(
            bound.parse().expect("a bound"),
            keys.parse().expect("a number of keys"),
        );
        return;
    }
    // `cargo bench` passes `--bench`; without it this is a test run, kept short.
    let keys = if std::env::args().any(|a| a == "--bench") {
        KEYS
    } else {
        SMOKE_KEYS
    };
    let small_bound = (keys / SMALL_BOUND_DIVISOR) as usize;
    // Each run in a fresh process: VmHWM is a per-process peak.
    let exe = std::env::current_exe().unwrap();
    for bound in [SlidingWindowLimiter::DEFAULT_MAX_KEYS, small_bound] {
        let status = Command::new(&exe)
            .env(BOUND_VAR, bound.to_string())
            .env(KEYS_VAR, keys.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "run with bound {bound} failed");
    }
}
