//! The shared stores' calls on one Redis against a Redis Cluster, and what waiting for a
//! replica's acknowledgement (`store.quota_replica_wait_ms`, `WAIT 1`) adds to a quota
//! reservation.
//!
//! `cargo bench --all-features --bench redis_cluster`. Starts its own Redis servers on free
//! loopback ports (needs `redis-server` and `redis-cli` on PATH): one Redis with one replica,
//! and a cluster of three masters and three replicas. Each call is measured one at a time (the
//! latency of one request's call); throughput under concurrency is `scripts/load.sh`'s.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/common/redis_cluster.rs"]
mod redis_cluster;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::limit::{Limits, RateLimitStore};
use memorysync_pipeline::quota::{AlertThresholds, Month, Operation, QuotaKey, QuotaStore};
use memorysync_pipeline::redis_store::{
    RedisConnection, RedisOptions, RedisQuotaStore, RedisRateLimitStore,
};

/// A plan no run spends.
const PLAN: u64 = 1_000_000_000_000;

/// How long a reservation may wait for its replica.
const WAIT: Duration = Duration::from_millis(100);

/// A `redis-server` on `port`, a replica of `replica_of` when given; killed on drop.
struct Server(Child);

impl Server {
    fn start(port: u16, replica_of: Option<u16>) -> Server {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(master) = replica_of {
            command.args(["--replicaof", "127.0.0.1", &master.to_string()]);
        }
        Server(command.spawn().expect("redis-server on PATH"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn quota_key(project: &str) -> QuotaKey {
    QuotaKey {
        project: project.into(),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
    }
}

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (master_port, replica_port) = (free_port(), free_port());
    let _master = Server::start(master_port, None);
    let _replica = Server::start(replica_port, Some(master_port));
    let cluster = runtime
        .block_on(redis_cluster::RedisCluster::start())
        .expect("redis-server and redis-cli on PATH");
    let (single, clustered) = runtime.block_on(async {
        let url = format!("redis://127.0.0.1:{master_port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let single = loop {
            match RedisConnection::connect(&url, RedisOptions::default()).await {
                Ok(connection) => break connection,
                Err(error) if std::time::Instant::now() > deadline => panic!("{error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let clustered = RedisConnection::connect_cluster(&cluster.seeds(), RedisOptions::default())
            .await
            .unwrap();
        (single, clustered)
    });

    let mut group = c.benchmark_group("quota reservation");
    let key = quota_key("proj_bench");
    for (name, store) in [
        ("one Redis", RedisQuotaStore::new(single.clone())),
        (
            "one Redis, WAIT 1",
            RedisQuotaStore::new(single.clone()).with_replica_wait(WAIT),
        ),
        ("cluster", RedisQuotaStore::new(clustered.clone())),
        (
            "cluster, WAIT 1",
            RedisQuotaStore::new(clustered.clone()).with_replica_wait(WAIT),
        ),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                store
                    .reserve(&key, PLAN, AlertThresholds::NONE)
                    .await
                    .unwrap()
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("rate-limit decision");
    let limits = Limits::new(Some(1_000_000_000), Some(1_000_000_000));
    let now = Timestamp::from_unix_secs(1_800_000_000);
    for (name, store) in [
        ("one Redis", RedisRateLimitStore::new(single.clone())),
        ("cluster", RedisRateLimitStore::new(clustered.clone())),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { store.check("key_bench", limits, now).await.unwrap() });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = calls
}
criterion_main!(benches);
