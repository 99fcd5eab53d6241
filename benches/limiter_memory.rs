//! Bytes of limiter state per tracked key, over one million keys, measured with a counting
//! allocator: ours next to governor's keyed DashMap limiter.
//!
//! `cargo bench --bench limiter_memory`; figures go into BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::num::NonZeroU32;

use counting_alloc::{Counting, live_bytes};
use governor::clock::FakeRelativeClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::limit::{Limits, SlidingWindowLimiter};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KEYS: u64 = 1_000_000;

fn per_key(label: &str, fill: impl FnOnce() -> Box<dyn std::any::Any>) {
    let before = live_bytes();
    let held = fill();
    let after = live_bytes();
    println!(
        "{label:40} {:>12} bytes for {KEYS} keys = {:>6.1} bytes per key (keys are u64: 8 bytes of it are the key)",
        after - before,
        (after - before) as f64 / KEYS as f64
    );
    drop(held);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks every bench target for its benchmarks
    }
    let now = Timestamp::from_unix_secs(1_800_000_000);
    per_key("ours (rps + rpm windows)", || {
        let limiter = SlidingWindowLimiter::new(KEYS as usize);
        let limits = Limits::new(Some(10), Some(300));
        for key in 0..KEYS {
            assert!(limiter.check(&key, limits, now).admitted);
        }
        assert_eq!(limiter.tracked_keys(), KEYS as usize);
        Box::new(limiter)
    });
    per_key("governor keyed DashMap (one GCRA)", || {
        let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
        let gov: RateLimiter<
            u64,
            DashMapStateStore<u64>,
            FakeRelativeClock,
            NoOpMiddleware<governor::nanos::Nanos>,
        > = RateLimiter::new(
            quota,
            DashMapStateStore::default(),
            FakeRelativeClock::default(),
        );
        for key in 0..KEYS {
            assert!(gov.check_key(&key).is_ok());
        }
        Box::new(gov)
    });
}
