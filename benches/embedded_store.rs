//! The embedded store's durable commits, through its writer thread: one tombstone alone (what a
//! revocation waits for), 100 tombstones left at once by 100 tasks (one group commit), and a
//! quota reservation answered from memory while blocks are committed in the background (with
//! how many reservations had to wait for a block).
//!
//! `cargo bench --bench embedded_store --features embedded`; the database lives in the
//! current directory (set `BENCH_DIR` for another disk), as it would under `store.path`.
//! Figures go into BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
use memorysync_pipeline::quota::{AlertThresholds, Month, Operation, QuotaKey, QuotaStore};
use memorysync_pipeline::tombstone::{TombstoneKind, TombstoneStore};

fn main() {
    let dir =
        tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = runtime
        .block_on(async { EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap() });
    let at = Timestamp::from_unix_secs(1_800_000_000);
    let mut criterion = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let tombstones = store.tombstones();
    let mut n = 0u64;
    criterion.bench_function("embedded/one durable commit (a tombstone)", |b| {
        b.to_async(&runtime).iter(|| {
            n += 1;
            let (tombstones, id) = (tombstones.clone(), format!("mem_{n}"));
            async move {
                tombstones
                    .leave(TombstoneKind::Memory, &id, at)
                    .await
                    .unwrap()
            }
        });
    });
    criterion.bench_function("embedded/100 tombstones at once (group commit)", |b| {
        b.to_async(&runtime).iter(|| {
            n += 1;
            let (tombstones, round) = (tombstones.clone(), n);
            async move {
                let tasks: Vec<_> = (0..100)
                    .map(|i| {
                        let tombstones = tombstones.clone();
                        tokio::spawn(async move {
                            let id = format!("mem_{round}_{i}");
                            tombstones
                                .leave(TombstoneKind::Memory, &id, at)
                                .await
                                .unwrap();
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            }
        });
    });
    let quotas = Arc::new(store.quotas());
    let key = QuotaKey {
        project: Arc::from("proj_bench"),
        operation: Operation::Query,
        month: Month::of(at),
    };
    // Polled once, by hand: the answer is in memory (blocks are committed in the background
    // by the writer thread), and an executor's round trip would be most of what is measured.
    // Each unit is given back, so the count stays inside the first block: what is measured is
    // the admission itself, not a loop that spends 500 units faster than one commit (which
    // waits for the disk, as it should).
    let _entered = runtime.enter();
    let mut context = Context::from_waker(Waker::noop());
    let mut waited = 0u64;
    criterion.bench_function("embedded/quota reservation and refund from memory", |b| {
        b.iter(|| {
            let mut reserve = quotas.reserve(&key, 1_000_000_000_000, AlertThresholds::NONE);
            let _ = match Pin::new(&mut reserve).poll(&mut context) {
                Poll::Ready(answer) => answer.unwrap(),
                Poll::Pending => {
                    waited += 1;
                    runtime.block_on(reserve).unwrap()
                }
            };
            quotas.refund(&key);
        });
    });
    println!("reservations that waited for a block's commit: {waited}");
    criterion.final_summary();
    runtime.block_on(store.close());
}
