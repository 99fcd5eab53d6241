//! Our in-memory rate-limit decision against governor's keyed DashMap limiter (`check_key`),
//! side by side in one run: one hot key, 100k keys round-robin, two threads on one key.
//! Both read a fake clock, so what is compared is the decision itself.
//!
//! `cargo bench --bench limiter`; the last lines print ns per decision and the ratio
//! ours / governor. Figures go into BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use governor::clock::FakeRelativeClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::limit::{Limits, SlidingWindowLimiter};

type Governor = RateLimiter<
    u64,
    DashMapStateStore<u64>,
    FakeRelativeClock,
    NoOpMiddleware<governor::nanos::Nanos>,
>;

const KEYS: u64 = 100_000;
/// Limits high enough that every request is admitted: the common path.
const HIGH: u32 = 1_000_000_000;

fn ours() -> SlidingWindowLimiter {
    SlidingWindowLimiter::default()
}

fn governor(per_second: u32) -> Governor {
    let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap());
    RateLimiter::new(
        quota,
        DashMapStateStore::default(),
        FakeRelativeClock::default(),
    )
}

fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000)
}

fn hot_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("hot key");
    let limiter = ours();
    let limits = Limits::new(Some(HIGH), Some(HIGH));
    group.bench_function("ours (rps and rpm)", |b| {
        b.iter(|| black_box(limiter.check(&7u64, limits, now()).admitted))
    });
    let gov = governor(HIGH);
    group.bench_function("governor", |b| {
        b.iter(|| black_box(gov.check_key(&7u64).is_ok()))
    });

    let limiter = ours();
    let refusing = Limits::new(Some(10), Some(300));
    group.bench_function("ours refusing", |b| {
        b.iter(|| black_box(limiter.check(&7u64, refusing, now()).admitted))
    });
    let gov = governor(10);
    group.bench_function("governor refusing", |b| {
        b.iter(|| black_box(gov.check_key(&7u64).is_ok()))
    });
    group.finish();
}

fn many_keys(c: &mut Criterion) {
    let mut group = c.benchmark_group("100k keys round-robin");
    let limiter = ours();
    let limits = Limits::new(Some(HIGH), Some(HIGH));
    let gov = governor(HIGH);
    for key in 0..KEYS {
        limiter.check(&key, limits, now());
        let _ = gov.check_key(&key);
    }
    let mut key = 0u64;
    group.bench_function("ours (rps and rpm)", |b| {
        b.iter(|| {
            key = (key + 1) % KEYS;
            black_box(limiter.check(&key, limits, now()).admitted)
        })
    });
    let mut key = 0u64;
    group.bench_function("governor", |b| {
        b.iter(|| {
            key = (key + 1) % KEYS;
            black_box(gov.check_key(&key).is_ok())
        })
    });
    group.finish();
}

/// Two threads deciding for one key; the time is wall time per decision.
fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("2 threads, one key");
    let limits = Limits::new(Some(HIGH), Some(HIGH));
    let limiter = Arc::new(ours());
    group.bench_function("ours (rps and rpm)", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, {
                let limiter = limiter.clone();
                move || {
                    black_box(limiter.check(&7u64, limits, now()).admitted);
                }
            })
        })
    });
    let gov = Arc::new(governor(HIGH));
    group.bench_function("governor", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, {
                let gov = gov.clone();
                move || {
                    black_box(gov.check_key(&7u64).is_ok());
                }
            })
        })
    });
    group.finish();
}

/// Runs `decide` `iters` times split over two threads; returns wall time scaled to per-call.
fn two_threads(iters: u64, decide: impl Fn() + Send + Sync + Clone + 'static) -> Duration {
    let half = iters.div_ceil(2);
    let start = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let decide = decide.clone();
            std::thread::spawn(move || (0..half).for_each(|_| decide()))
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    // Wall time for 2 × half decisions, reported as if `iters` ran one after another: the
    // per-iteration figure is wall time per decision.
    start.elapsed().mul_f64(iters as f64 / (2 * half) as f64)
}

/// Reads criterion's estimates and prints ns per decision with the ratio ours / governor.
fn summary() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../criterion");
    let mean_ns = |group: &str, bench: &str| -> Option<f64> {
        let path = dir.join(group).join(bench).join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["mean"]["point_estimate"].as_f64()
    };
    println!("\nsummary: ns per decision, ours / governor");
    for (group, ours, theirs) in [
        ("hot key", "ours (rps and rpm)", "governor"),
        ("hot key", "ours refusing", "governor refusing"),
        ("100k keys round-robin", "ours (rps and rpm)", "governor"),
        ("2 threads, one key", "ours (rps and rpm)", "governor"),
    ] {
        match (mean_ns(group, ours), mean_ns(group, theirs)) {
            (Some(o), Some(t)) => {
                println!(
                    "{group:24} {ours:20} {o:8.1} ns   {theirs:18} {t:8.1} ns   ratio {:.2}",
                    o / t
                )
            }
            _ => println!("{group:24} (no estimates found under {})", dir.display()),
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    hot_key(&mut criterion);
    many_keys(&mut criterion);
    contended(&mut criterion);
    criterion.final_summary();
    summary();
}
