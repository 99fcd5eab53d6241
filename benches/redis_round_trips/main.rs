//! Redis commands and round trips per request, stage by stage (the goal: at most one round
//! trip per stage on the request path), and what the Redis stores cost an admitted request in time
//! against the in-memory stores.
//!
//! `cargo bench --all-features --bench redis_round_trips`. Needs a Redis at
//! `MEMORYSYNC_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`, given without a database);
//! uses database 13, flushed before and after. `REDIS_ROUND_TRIPS_REQUESTS` changes the number
//! of requests per configuration (10,000). Prints Markdown tables.
//!
//! The pipeline is built on the Redis stores as the server example builds it on
//! `store.backend = "redis"`: `RedisKeyStore` with `RedisTombstones`, `RedisRateLimitStore` and
//! `RedisQuotaStore` each behind `WithFallback` (policy `local`), the audit log on the instance's
//! own `RedisAuditSink` stream, `/health` with the `audit` and `redis` checks; a store of five
//! keys, all requests made with one of them. Admitted requests go through it in process
//! (`tower::ServiceExt`), one at a time (and once 32 at a time, for the audit batches).
//!
//! How commands are counted: Redis counts commands per name for the whole server
//! (`INFO commandstats`, zeroed by `CONFIG RESETSTAT`), so one stage configuration runs at a
//! time (auth; + scope; + rate limit; + quota; + audit; + health) and the stages are told apart
//! by difference. In Redis 7 the commands a Lua script calls are counted too, under their own
//! names, so the counts are split by name:
//! - top level, on the request path: what the stages send and wait for (`EVALSHA`, `PING`;
//!   `HMGET` for a key look-up the key cache could not answer; `EVAL`/`SCRIPT LOAD` after a
//!   `NOSCRIPT`): one round trip each;
//! - top level, in the background: the audit writer's batches (`MULTI`, the `XADD`s, `EXEC`: one
//!   pipelined round trip a batch), the key-usage flush (`EVALSHA` of the flush script, once
//!   a second and when forced) and the key cache's poll (`MGET`, four times a second);
//! - inside scripts: every other command, not a round trip. The rate-limit script reads its
//!   state with one `HMGET` and the server's clock with one `TIME`, which nothing else here
//!   sends: each `TIME` moves one `HMGET` inside scripts.
//!
//! The usage flush runs once a second during a measured run as well, and its `EVALSHA`,
//! `HGET` and `HSET` share names with the rate-limit script's. All requests use one key, so each
//! flush call carries exactly one record and calls `HINCRBY` once, a command nothing else sends:
//! the flush calls of a run are counted by their `HINCRBY`s and their commands (`EVALSHA`,
//! `HEXISTS`, `HINCRBY`, `HGET`, `HSET` each; the forced flush after the run, printed, shows
//! that profile) moved to the background.
//!
//! Background work is measured by forcing it after the run (`RedisKeyStore::flush_usage`,
//! `AuditLog::flush`) and adding what it did during the run. Counts are server-wide, so a run
//! during which another client may have used the server (a connection opened, a client of
//! another database active, or the rate-limit decisions or probes not counted exactly once per
//! request) is measured again, up to 10 times; a run still disturbed is marked so. For clean figures on a
//! busy shared Redis, point `MEMORYSYNC_TEST_REDIS_URL` at a Redis of the bench's own.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod counts;
mod report;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use http::StatusCode;
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, LastKnownKeys, MemoryKeyStore};
use memorysync_pipeline::limit::{SlidingWindowLimiter, SlidingWindowRateLimitLayer, WithFallback};
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{MemoryQuotaStore, Plan, QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::redis_store::{
    RedisAuditSink, RedisConnection, RedisKeyStore, RedisOptions, RedisQuotaStore,
    RedisRateLimitStore, RedisTombstones,
};
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::store::StoreErrorPolicy;
use memorysync_pipeline::tombstone::MemoryTombstones;
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt};

use common::{PROJECT, Req, RequestSpec, bearer, handler};
use counts::*;
use report::*;

/// What every shared store does while Redis does not answer (the default, `local`).
const POLICY: StoreErrorPolicy = StoreErrorPolicy::Local;
/// The database this bench owns.
const DB: u32 = 13;
const DEFAULT_URL: &str = "redis://127.0.0.1:6379";
/// Admitted requests per configuration.
const REQUESTS: usize = 10_000;
/// Requests before each measured run: scripts loaded, entries cached, connections warm.
const WARM_UP: usize = 200;
/// `GET /health` probes measured.
const PROBES: usize = 1_000;
/// Keys in the store besides the one the requests use.
const OTHER_KEYS: usize = 4;
/// Limits the key never reaches, whatever the run's length.
const HIGH_RATE: u32 = 1_000_000_000;
const HIGH_QUOTA: u64 = 1 << 62;
/// Runs disturbed by other clients are measured again, this many times in all at most.
const ATTEMPTS: usize = 10;
/// Requests in flight at once in the concurrent run.
const IN_FLIGHT: usize = 32;
/// Rounds of the latency comparison; the pipelines take turns, one block each per round.
const ROUNDS: usize = 10;

/// Calls per command name.
/// One measured run.
struct Run {
    name: &'static str,
    requests: usize,
    commands: Attributed,
    /// The forced flush alone, to check the one-record profile against.
    forced: Counts,
    latency: Latency,
    /// Wall time of the measured requests.
    elapsed: Duration,
    attempts: usize,
    disturbed: bool,
}

impl Run {
    fn per(&self, calls: u64) -> f64 {
        calls as f64 / self.requests as f64
    }
    fn round_trips(&self) -> f64 {
        self.per(total(&self.commands.request))
    }
    fn inner(&self) -> f64 {
        self.per(total(&self.commands.inner))
    }
    fn background_round_trips(&self) -> f64 {
        self.per(self.commands.background_round_trips)
    }
    fn background(&self) -> f64 {
        self.per(total(&self.commands.background))
    }
}

#[derive(Clone, Copy)]
struct Latency {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

impl Latency {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort_unstable();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        Latency {
            mean: times.iter().sum::<Duration>() / times.len().max(1) as u32,
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Sends `n` requests one at a time; each one's time from `ready` to its response.
async fn send_many<S, B>(
    service: &mut S,
    spec: &RequestSpec,
    n: usize,
    expect: StatusCode,
) -> Vec<Duration>
where
    S: Service<Req, Response = http::Response<B>, Error = Infallible>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let request = spec.build();
        let start = Instant::now();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        times.push(start.elapsed());
        assert_eq!(response.status(), expect);
        black_box(response);
    }
    times
}

/// The shared stores, as the server example builds them on `store.backend = "redis"`.
struct RedisStores {
    connection: RedisConnection,
    keys: WithFallback<RedisKeyStore, LastKnownKeys>,
    limiter: WithFallback<RedisRateLimitStore, SlidingWindowLimiter>,
    quota: WithFallback<RedisQuotaStore, MemoryQuotaStore>,
    tombstones: RedisTombstones,
    log: AuditLog,
}

struct Bench {
    runtime: Runtime,
    control: Control,
    redis: RedisStores,
    memory_keys: MemoryKeyStore,
    memory_log: AuditLog,
    tombstones: MemoryTombstones,
    search: RequestSpec,
    requests: usize,
}

impl Bench {
    fn new(url: &str, requests: usize) -> Self {
        // One worker runs the connection, the usage flusher and the audit writers; the bench
        // thread drives requests with `block_on`, as a server's worker would.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut control = Control::open(url);
        control.flushdb();
        let tombstones = MemoryTombstones::new(MemoryTombstones::DEFAULT_KEEP_FOR);
        let env = Environment::Development;
        let key = ApiKey::generate(env).unwrap();
        let high = |record: KeyRecord| record.with_limits(Some(HIGH_RATE), Some(HIGH_RATE));
        let mut records = vec![high(KeyRecord::new("key_bench", key.hash(), PROJECT, env))];
        for i in 0..OTHER_KEYS {
            let other = ApiKey::generate(env).unwrap();
            records.push(high(KeyRecord::new(
                format!("key_other_{i}"),
                other.hash(),
                PROJECT,
                env,
            )));
        }
        let (redis, memory_keys) = runtime.block_on(async {
            let connection = RedisConnection::connect(url, RedisOptions::default())
                .await
                .unwrap();
            let options = connection.options().clone();
            let redis_tombstones =
                RedisTombstones::new(connection.clone(), RedisTombstones::DEFAULT_KEEP_FOR);
            let keys = WithFallback::new(
                RedisKeyStore::with_tombstones(connection.clone(), redis_tombstones.clone()),
                POLICY,
            );
            let memory_keys = MemoryKeyStore::with_tombstones(tombstones.clone());
            for record in &records {
                keys.insert(record.clone(), Timestamp::EPOCH).await.unwrap();
                memory_keys
                    .insert(record.clone(), Timestamp::EPOCH)
                    .await
                    .unwrap();
            }
            // The instance's own stream; Redis keeps tombstones by TTL, so the log purges none.
            let sink = RedisAuditSink::open(url, &options.prefix, options.timeout)
                .unwrap()
                .with_stream("audit:bench");
            let log = AuditLog::start(sink, AuditLogConfig::new()).unwrap();
            let stores = RedisStores {
                limiter: WithFallback::new(RedisRateLimitStore::new(connection.clone()), POLICY),
                quota: WithFallback::new(RedisQuotaStore::new(connection.clone()), POLICY),
                tombstones: redis_tombstones,
                connection,
                keys,
                log,
            };
            (stores, memory_keys)
        });
        let memory_log = {
            let _entered = runtime.enter();
            AuditLog::start(
                MemoryAuditSink::new(),
                AuditLogConfig::new().with_tombstones(tombstones.clone()),
            )
            .unwrap()
        };
        Bench {
            runtime,
            control,
            redis,
            memory_keys,
            memory_log,
            tombstones,
            search: RequestSpec::search(Some(bearer(key.expose_secret())), Some(PROJECT)),
            requests,
        }
    }

    fn plans() -> QuotaPlans {
        QuotaPlans::new().with_plan(PROJECT, Plan::new(HIGH_QUOTA, HIGH_QUOTA))
    }

    /// Everything queued in the background written now.
    async fn settle(&self) {
        self.redis.keys.get_ref().flush_usage().await.unwrap();
        self.redis.log.flush().await;
    }

    /// Sends `n` requests of `spec` through `service` one at a time, counting the commands.
    /// `limited`: the service has the rate-limit stage.
    fn run<S, B>(
        &mut self,
        name: &'static str,
        mut service: S,
        spec: &RequestSpec,
        n: usize,
        limited: bool,
    ) -> Run
    where
        S: Service<Req, Response = http::Response<B>, Error = Infallible>,
    {
        let marker = marker(spec, limited);
        self.measure(name, marker, n, |runtime, n| {
            runtime.block_on(send_many(&mut service, spec, n, StatusCode::OK))
        })
    }

    /// The same with `in_flight` requests at a time, each sent by its own task.
    fn run_concurrent<S, B>(
        &mut self,
        name: &'static str,
        service: S,
        spec: &RequestSpec,
        n: usize,
        in_flight: usize,
    ) -> Run
    where
        S: Service<Req, Response = http::Response<B>, Error = Infallible> + Clone + Send + 'static,
        S::Future: Send,
        B: Send + 'static,
    {
        let marker = marker(spec, true);
        let each = n / in_flight;
        self.measure(name, marker, each * in_flight, |runtime, n| {
            let each = n.div_ceil(in_flight);
            runtime.block_on(async {
                let tasks: Vec<_> = (0..in_flight)
                    .map(|_| {
                        let (mut service, spec) = (service.clone(), spec.clone());
                        tokio::spawn(async move {
                            send_many(&mut service, &spec, each, StatusCode::OK).await
                        })
                    })
                    .collect();
                let mut times = Vec::with_capacity(n);
                for task in tasks {
                    times.extend(task.await.unwrap());
                }
                times
            })
        })
    }

    /// Warms up with `send`, then counts the commands of `n` requests sent by `send` and of
    /// the background work they leave; measured again while other clients disturb the counts
    /// or `marker`, sent once per request when there is one, was not counted exactly `n` times.
    fn measure(
        &mut self,
        name: &'static str,
        marker: Option<&str>,
        n: usize,
        mut send: impl FnMut(&Runtime, usize) -> Vec<Duration>,
    ) -> Run {
        let mut attempt = 0;
        loop {
            attempt += 1;
            send(&self.runtime, WARM_UP);
            self.runtime.block_on(self.settle());
            self.control.reset();
            let start = Instant::now();
            let times = send(&self.runtime, n);
            let elapsed = start.elapsed();
            let during = self.control.commands();
            self.runtime.block_on(self.settle());
            let forced = minus(&self.control.commands(), &during);
            let disturbed = self.control.disturbed(start.elapsed())
                || marker.is_some_and(|marker| get(&during, marker) != n as u64);
            if disturbed && attempt < ATTEMPTS {
                println!("{name}: another client used the server during the run; again");
                // Test runs come in bursts: give this one time to end.
                std::thread::sleep(Duration::from_secs(2 * attempt as u64));
                continue;
            }
            return Run {
                name,
                requests: n,
                commands: attribute(during, forced.clone()),
                forced,
                latency: Latency::of(times),
                elapsed,
                attempts: attempt,
                disturbed,
            };
        }
    }
}

/// The command each request sends exactly once, if any: the probe's `PING`; the rate-limit
/// decision's `TIME` ([`DECISION_MARKER`]). A request whose key the cache answers and that no
/// rate limit decides sends nothing.
fn marker(spec: &RequestSpec, decided: bool) -> Option<&'static str> {
    if spec.path == "/health" {
        Some("ping")
    } else {
        decided.then_some(DECISION_MARKER)
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let base = std::env::var("MEMORYSYNC_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    let url = format!("{}/{DB}", base.trim_end_matches('/'));
    let requests = std::env::var("REDIS_ROUND_TRIPS_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(REQUESTS);
    let mut bench = Bench::new(&url, requests);
    let version = bench.control.info_field("server", "redis_version");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    println!(
        "redis {version} at {base} (database {DB}); {requests} admitted requests per configuration; cpu {cpu}, {} threads",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let keys = bench.redis.keys.clone();
    let limiter = bench.redis.limiter.clone();
    let quota_store = bench.redis.quota.clone();
    let log = bench.redis.log.clone();
    let tombstones = bench.redis.tombstones.clone();
    let connection = bench.redis.connection.clone();
    let auth = || ApiKeyAuthLayer::new(keys.clone(), Environment::Development);
    let limit = || SlidingWindowRateLimitLayer::from_store(limiter.clone());
    let quota =
        || QuotaDegradeLayer::from_store(Bench::plans(), quota_store.clone()).with_alerts(|_| {});
    let audit = || AuditRecordLayer::new(log.clone()).with_tombstones(tombstones.clone());
    let health = || {
        HealthRouteLayer::new()
            .with_per_ip_rps(NonZeroU32::MAX)
            .with_check(log.health_check())
            .with_check(connection.health_check())
    };
    let full = || {
        PipelineBuilder::new()
            .stage(health())
            .stage(audit())
            .stage(auth())
            .stage(ProjectScopeLayer::new())
            .stage(limit())
            .stage(quota())
            .into_layer()
            .layer(handler())
    };

    let search = bench.search.clone();
    let n = bench.requests;
    let runs = vec![
        bench.run(
            "auth",
            PipelineBuilder::new()
                .stage(auth())
                .into_layer()
                .layer(handler()),
            &search,
            n,
            false,
        ),
        bench.run(
            "auth + scope",
            PipelineBuilder::new()
                .stage(auth())
                .stage(ProjectScopeLayer::new())
                .into_layer()
                .layer(handler()),
            &search,
            n,
            false,
        ),
        bench.run(
            "+ rate limit",
            PipelineBuilder::new()
                .stage(auth())
                .stage(ProjectScopeLayer::new())
                .stage(limit())
                .into_layer()
                .layer(handler()),
            &search,
            n,
            true,
        ),
        bench.run(
            "+ quota",
            PipelineBuilder::new()
                .stage(auth())
                .stage(ProjectScopeLayer::new())
                .stage(limit())
                .stage(quota())
                .into_layer()
                .layer(handler()),
            &search,
            n,
            true,
        ),
        bench.run(
            "+ audit",
            PipelineBuilder::new()
                .stage(audit())
                .stage(auth())
                .stage(ProjectScopeLayer::new())
                .stage(limit())
                .stage(quota())
                .into_layer()
                .layer(handler()),
            &search,
            n,
            true,
        ),
        bench.run("+ health (full)", full(), &search, n, true),
        bench.run_concurrent("full, 32 requests in flight", full(), &search, n, IN_FLIGHT),
    ];
    let probe = bench.run(
        "GET /health probe",
        full(),
        &RequestSpec::health(),
        PROBES,
        false,
    );

    report_configurations(&runs, &probe);
    report_stages(&runs, &probe);
    report_raw(&runs, &probe);
    compare_latency(&mut bench, full());

    bench.runtime.block_on(bench.settle());
    bench.control.flushdb();
}

/// Mean and percentiles per admitted request: bare handler, the full pipeline on the in-memory
/// stores and on the Redis stores, in turns.
fn compare_latency<S, B>(bench: &mut Bench, mut redis: S)
where
    S: Service<Req, Response = http::Response<B>, Error = Infallible>,
{
    let plans = Bench::plans();
    let mut memory = PipelineBuilder::new()
        .stage(
            HealthRouteLayer::new()
                .with_per_ip_rps(NonZeroU32::MAX)
                .with_check(bench.memory_log.health_check()),
        )
        .stage(
            AuditRecordLayer::new(bench.memory_log.clone())
                .with_tombstones(bench.tombstones.clone()),
        )
        .stage(ApiKeyAuthLayer::new(
            bench.memory_keys.clone(),
            Environment::Development,
        ))
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(QuotaDegradeLayer::new(plans).with_alerts(|_| {}))
        .into_layer()
        .layer(handler());
    let mut bare = handler();
    let spec = bench.search.clone();
    let block = bench.requests.div_ceil(ROUNDS);
    let rt = &bench.runtime;
    let ok = StatusCode::OK;
    rt.block_on(async {
        send_many(&mut bare, &spec, WARM_UP, ok).await;
        send_many(&mut memory, &spec, WARM_UP, ok).await;
        send_many(&mut redis, &spec, WARM_UP, ok).await;
    });
    let ping = rt.block_on(async {
        let mut times = Vec::with_capacity(block);
        for _ in 0..block {
            let start = Instant::now();
            bench.redis.connection.ping().await.unwrap();
            times.push(start.elapsed());
        }
        Latency::of(times)
    });
    let (mut t_bare, mut t_memory, mut t_redis) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        rt.block_on(async {
            t_bare.extend(send_many(&mut bare, &spec, block, ok).await);
            t_memory.extend(send_many(&mut memory, &spec, block, ok).await);
            t_redis.extend(send_many(&mut redis, &spec, block, ok).await);
        });
        rt.block_on(bench.memory_log.flush());
        rt.block_on(bench.settle());
    }
    let rows = [
        ("bare handler", Latency::of(t_bare)),
        ("full pipeline, in-memory stores", Latency::of(t_memory)),
        ("full pipeline, Redis stores", Latency::of(t_redis)),
    ];
    println!(
        "\n### Latency per admitted request, one at a time ({} each, {ROUNDS} rounds in turns)\n",
        block * ROUNDS
    );
    println!("| pipeline | mean | p50 | p99 |");
    println!("|---|---|---|---|");
    for (name, l) in rows
        .iter()
        .chain([&("one `PING` (RedisConnection::ping)", ping)])
    {
        println!(
            "| {name} | {:.1} µs | {:.1} µs | {:.1} µs |",
            micros(l.mean),
            micros(l.p50),
            micros(l.p99)
        );
    }
    let monitors = bench.control.monitors();
    if monitors > 0 {
        println!(
            "\n({monitors} other client(s) in MONITOR mode during the runs: Redis was slowed)"
        );
    }
    let (memory, redis) = (rows[1].1, rows[2].1);
    println!(
        "\nRedis stores add {:.1} µs to the mean admitted request ({:.1}× the in-memory pipeline); audit: {:?}",
        micros(redis.mean) - micros(memory.mean),
        redis.mean.as_secs_f64() / memory.mean.as_secs_f64(),
        bench.redis.log.stats()
    );
}
