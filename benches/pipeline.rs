//! What the whole pipeline adds to a request: the same request through a bare handler and
//! through all six stages (health, audit, auth, scope, rate limit, quota) on the in-memory
//! stores, for an admitted request and for every kind of answer the stages give themselves.
//!
//! `cargo bench --bench pipeline`; the last lines print ns per request and the cost the pipeline
//! adds. Figures go into BENCHMARKS.md.
//!
//! Profiling: `PIPELINE_PROFILE=<n>` runs `n` admitted requests through the bare handler
//! (`profile_bare`) and then through the pipeline (`profile_full`), without criterion, so that
//! `valgrind --tool=callgrind` counts the instructions of each loop.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::convert::Infallible;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Instant;

use criterion::Criterion;
use http::StatusCode;
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig};
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::quota::{Plan, QuotaPlans};
use memorysync_pipeline::tombstone::MemoryTombstones;
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

use common::{DiscardSink, PROJECT, Req, RequestSpec, Stages, bearer, full_pipeline, handler};

/// Other keys in the store, so the look-up is not into a map of a handful.
const OTHER_KEYS: usize = 10_000;
/// Limits the admitted key never reaches, whatever the run's length.
const HIGH_RATE: u32 = 1_000_000_000;
const HIGH_QUOTA: u64 = 1 << 62;
/// The project whose monthly quota is used up.
const SPENT_PROJECT: &str = "proj_spent";
const GROUP: &str = "pipeline";

/// One request kind, its expected status, and the bench's name for it.
struct Case {
    name: &'static str,
    spec: RequestSpec,
    status: StatusCode,
}

struct Keys {
    admitted: String,
    revoked: String,
    expired: String,
    unknown: String,
    malformed: String,
    limited: String,
    spent: String,
}

/// The key store: 10,000 keys plus one of each kind the cases need.
fn key_store(runtime: &Runtime, tombstones: &MemoryTombstones) -> (MemoryKeyStore, Keys) {
    let store = MemoryKeyStore::with_tombstones(tombstones.clone());
    let env = Environment::Development;
    let insert = |record: KeyRecord| {
        runtime
            .block_on(store.insert(record, Timestamp::EPOCH))
            .unwrap()
    };
    let new_key = |id: &str, project: &str, edit: &dyn Fn(KeyRecord) -> KeyRecord| {
        let key = ApiKey::generate(env).unwrap();
        insert(edit(KeyRecord::new(id, key.hash(), project, env)));
        key.expose_secret().to_owned()
    };
    let high = |r: KeyRecord| r.with_limits(Some(HIGH_RATE), Some(HIGH_RATE));
    for i in 0..OTHER_KEYS {
        new_key(&format!("key_other_{i}"), PROJECT, &high);
    }
    let keys = Keys {
        admitted: new_key("key_admitted", PROJECT, &high),
        revoked: new_key("key_revoked", PROJECT, &|r| KeyRecord {
            revoked_at: Some(Timestamp::from_unix_secs(1)),
            ..high(r)
        }),
        expired: new_key("key_expired", PROJECT, &|r| {
            high(r).with_expiry(Timestamp::from_unix_secs(1))
        }),
        // Spent by one request before the benches: refused for the next 60 s.
        limited: new_key("key_limited", PROJECT, &|r| r.with_limits(Some(1), Some(1))),
        spent: new_key("key_spent", SPENT_PROJECT, &high),
        unknown: ApiKey::generate(env).unwrap().expose_secret().to_owned(),
        // Well-formed except for its checksum: refused without a look-up.
        malformed: {
            let mut text = ApiKey::generate(env).unwrap().expose_secret().to_owned();
            let last = if text.ends_with('0') { "1" } else { "0" };
            text.replace_range(text.len() - 1.., last);
            text
        },
    };
    (store, keys)
}

fn cases(keys: &Keys) -> Vec<Case> {
    let search = |key: Option<&str>, project: Option<&'static str>| {
        RequestSpec::search(key.map(bearer), project)
    };
    let p = Some(PROJECT);
    let case = |name, spec, status| Case { name, spec, status };
    vec![
        case("admitted", search(Some(&keys.admitted), p), StatusCode::OK),
        case("401 missing key", search(None, p), StatusCode::UNAUTHORIZED),
        case(
            "401 malformed key",
            search(Some(&keys.malformed), p),
            StatusCode::UNAUTHORIZED,
        ),
        case(
            "401 unknown key",
            search(Some(&keys.unknown), p),
            StatusCode::UNAUTHORIZED,
        ),
        case(
            "401 revoked key",
            search(Some(&keys.revoked), p),
            StatusCode::UNAUTHORIZED,
        ),
        case(
            "401 expired key",
            search(Some(&keys.expired), p),
            StatusCode::UNAUTHORIZED,
        ),
        case(
            "400 missing project id",
            search(Some(&keys.admitted), None),
            StatusCode::BAD_REQUEST,
        ),
        case(
            "403 project mismatch",
            search(Some(&keys.admitted), Some("proj_other")),
            StatusCode::FORBIDDEN,
        ),
        case(
            "429 rate limited",
            search(Some(&keys.limited), p),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        case(
            "200 quota degraded",
            search(Some(&keys.spent), Some(SPENT_PROJECT)),
            StatusCode::OK,
        ),
        case("200 health", RequestSpec::health(), StatusCode::OK),
    ]
}

async fn send<S, B>(service: &mut S, request: Req) -> StatusCode
where
    S: Service<Req, Response = http::Response<B>, Error = Infallible>,
{
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let status = response.status();
    black_box(response);
    status
}

struct Fixture {
    runtime: Runtime,
    log: AuditLog,
    keys: Keys,
    key_store: MemoryKeyStore,
    tombstones: MemoryTombstones,
}

impl Fixture {
    fn new() -> Self {
        // One worker runs the audit writer (and the sink on a blocking thread); the bench
        // thread drives requests with `block_on`, as a server's worker would.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let tombstones = MemoryTombstones::new(MemoryTombstones::DEFAULT_KEEP_FOR);
        let log = {
            let _entered = runtime.enter();
            AuditLog::start(
                DiscardSink::default(),
                AuditLogConfig::new().with_tombstones(tombstones.clone()),
            )
            .unwrap()
        };
        let (key_store, keys) = key_store(&runtime, &tombstones);
        Fixture {
            runtime,
            log,
            keys,
            key_store,
            tombstones,
        }
    }

    fn pipeline(
        &self,
        health_rps: NonZeroU32,
    ) -> impl Service<Req, Response = http::Response<impl Sized>, Error = Infallible> + Clone {
        let plans = QuotaPlans::new()
            .with_plan(PROJECT, Plan::new(HIGH_QUOTA, HIGH_QUOTA))
            .with_plan(SPENT_PROJECT, Plan::new(0, 0));
        full_pipeline(
            handler(),
            Stages {
                keys: self.key_store.clone(),
                log: self.log.clone(),
                tombstones: self.tombstones.clone(),
                health_rps,
                limiter: SlidingWindowRateLimitLayer::new(),
                plans,
            },
        )
    }
}

impl Fixture {
    /// The five stages other than the audit record, to tell its share apart.
    fn without_audit(
        &self,
    ) -> impl Service<Req, Response = http::Response<impl Sized>, Error = Infallible> + Clone {
        use memorysync_pipeline::auth::ApiKeyAuthLayer;
        use memorysync_pipeline::pipeline::PipelineBuilder;
        use memorysync_pipeline::quota::QuotaDegradeLayer;
        use memorysync_pipeline::scope::ProjectScopeLayer;
        use tower::Layer;

        let plans = QuotaPlans::new().with_plan(PROJECT, Plan::new(HIGH_QUOTA, HIGH_QUOTA));
        PipelineBuilder::new()
            .stage(HealthRouteLayer::new().with_per_ip_rps(NonZeroU32::MAX))
            .stage(ApiKeyAuthLayer::new(
                self.key_store.clone(),
                Environment::Development,
            ))
            .stage(ProjectScopeLayer::new())
            .stage(SlidingWindowRateLimitLayer::new())
            .stage(QuotaDegradeLayer::new(plans))
            .into_layer()
            .layer(handler())
    }
}

/// The admitted request through every stage but the audit record.
const WITHOUT_AUDIT: &str = "admitted without the audit stage";

fn benches(c: &mut Criterion, fixture: &Fixture) {
    let runtime = &fixture.runtime;
    let mut bare = handler();
    let mut full = fixture.pipeline(NonZeroU32::MAX);
    // The server's default per-IP health limit (5/s), for the refused probe.
    let mut strict_health = fixture.pipeline(HealthRouteLayer::DEFAULT_PER_IP_RPS);
    let cases = cases(&fixture.keys);

    // Every case answers as named before anything is timed.
    runtime.block_on(async {
        let limited = &cases.iter().find(|c| c.name == "429 rate limited").unwrap();
        assert_eq!(send(&mut full, limited.spec.build()).await, StatusCode::OK);
        for case in &cases {
            let status = send(&mut full, case.spec.build()).await;
            assert_eq!(status, case.status, "{}", case.name);
        }
        let probe = RequestSpec::health();
        for _ in 0..5 {
            send(&mut strict_health, probe.build()).await;
        }
        let status = send(&mut strict_health, probe.build()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        fixture.log.flush().await;
    });

    let mut group = c.benchmark_group(GROUP);
    let admitted = &cases[0].spec;
    group.bench_function("bare admitted", |b| {
        b.iter(|| runtime.block_on(send(&mut bare, admitted.build())))
    });
    for case in &cases {
        let spec = &case.spec;
        group.bench_function(format!("full {}", case.name), |b| {
            // Events of earlier runs are written before this one starts.
            runtime.block_on(fixture.log.flush());
            b.iter(|| runtime.block_on(send(&mut full, spec.build())))
        });
    }
    let mut without_audit = fixture.without_audit();
    runtime.block_on(async {
        let status = send(&mut without_audit, admitted.build()).await;
        assert_eq!(status, StatusCode::OK, "without audit");
    });
    group.bench_function(format!("full {WITHOUT_AUDIT}"), |b| {
        b.iter(|| runtime.block_on(send(&mut without_audit, admitted.build())))
    });
    let probe = RequestSpec::health();
    group.bench_function("full 429 health rate limited", |b| {
        runtime.block_on(fixture.log.flush());
        b.iter(|| runtime.block_on(send(&mut strict_health, probe.build())))
    });
    group.finish();
    runtime.block_on(fixture.log.flush());
}

/// Reads criterion's estimates and prints ns per request, and what the pipeline adds.
fn summary(fixture: &Fixture) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../criterion");
    let mean_ns = |bench: &str| -> Option<f64> {
        let path = dir.join(GROUP).join(bench).join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["mean"]["point_estimate"].as_f64()
    };
    let Some(bare) = mean_ns("bare admitted") else {
        println!("\nsummary: no estimates under {}", dir.display());
        return;
    };
    println!("\nsummary: ns per request (criterion mean), same request and handler");
    println!("{:34} {:>10} {:>22}", "case", "ns", "minus bare admitted");
    println!("{:34} {bare:>10.1} {:>22}", "bare admitted", "");
    let names = cases(&fixture.keys).into_iter().map(|c| c.name);
    for name in names.chain(["429 health rate limited", WITHOUT_AUDIT]) {
        let bench = format!("full {name}");
        match mean_ns(&bench) {
            Some(ns) => println!("{bench:34} {ns:>10.1} {:>+22.1}", ns - bare),
            None => println!("{bench:34} (no estimate)"),
        }
    }
    if let Some(full) = mean_ns("full admitted") {
        println!(
            "\nadded per admitted request: {:.1} ns (goal <= 1000 ns: {})",
            full - bare,
            if full - bare <= 1000.0 {
                "met"
            } else {
                "not met"
            }
        );
    }
    let stats = fixture.log.stats();
    println!(
        "audit: {} events queued, {} written, {} waited for queue room, {} lost",
        stats.queued, stats.written, stats.waited_for_room, stats.dropped
    );
}

#[inline(never)]
fn profile_bare<S, B>(runtime: &Runtime, service: &mut S, spec: &RequestSpec, n: u64)
where
    S: Service<Req, Response = http::Response<B>, Error = Infallible>,
{
    runtime.block_on(async {
        for _ in 0..n {
            send(service, spec.build()).await;
        }
    });
}

#[inline(never)]
fn profile_full<S, B>(runtime: &Runtime, service: &mut S, spec: &RequestSpec, n: u64)
where
    S: Service<Req, Response = http::Response<B>, Error = Infallible>,
{
    runtime.block_on(async {
        for _ in 0..n {
            send(service, spec.build()).await;
        }
    });
}

/// `PIPELINE_PROFILE=<n>`: `n` requests of the case named by `PIPELINE_PROFILE_CASE` (default
/// `admitted`; any name of the summary without `full `) through the pipeline, after `n`
/// admitted requests through the bare handler.
fn profile(fixture: &Fixture, n: u64) {
    let runtime = &fixture.runtime;
    let name = std::env::var("PIPELINE_PROFILE_CASE").unwrap_or_else(|_| "admitted".into());
    let mut cases = cases(&fixture.keys);
    let admitted = cases[0].spec.clone();
    let strict = HealthRouteLayer::DEFAULT_PER_IP_RPS;
    cases.push(Case {
        name: "429 health rate limited",
        spec: RequestSpec::health(),
        status: StatusCode::TOO_MANY_REQUESTS,
    });
    let case = cases
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("PIPELINE_PROFILE_CASE: no case {name:?}"));
    let health_rps = if case.name.contains("health rate limited") {
        strict
    } else {
        NonZeroU32::MAX
    };
    let mut bare = handler();
    let mut full = fixture.pipeline(health_rps);
    // Warm: the first requests create the limiter and quota entries and spend the limited
    // key's and the health probe's allowance.
    for _ in 0..=strict.get() {
        runtime.block_on(send(&mut full, case.spec.build()));
    }
    let (status, future_bytes) = runtime.block_on(async {
        let future = full.ready().await.unwrap().call(case.spec.build());
        let bytes = std::mem::size_of_val(&future);
        (future.await.unwrap().status(), bytes)
    });
    assert_eq!(status, case.status, "{name}");
    let start = Instant::now();
    profile_bare(runtime, &mut bare, &admitted, n);
    let bare_ns = start.elapsed().as_nanos() as f64 / n.max(1) as f64;
    let start = Instant::now();
    profile_full(runtime, &mut full, &case.spec, n);
    let full_ns = start.elapsed().as_nanos() as f64 / n.max(1) as f64;
    runtime.block_on(fixture.log.flush());
    println!(
        "profiled {n} requests, {name}: bare admitted {bare_ns:.0} ns, full {full_ns:.0} ns, added {:.0} ns per request (one block_on per loop); the pipeline's response future is {future_bytes} bytes; {:?}",
        full_ns - bare_ns,
        fixture.log.stats()
    );
}

fn main() {
    let fixture = Fixture::new();
    if let Ok(n) = std::env::var("PIPELINE_PROFILE") {
        profile(
            &fixture,
            n.parse().expect("PIPELINE_PROFILE: a number of requests"),
        );
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion, &fixture);
    criterion.final_summary();
    // Only `cargo bench` (which passes `--bench`) measures; a test or profiling run's summary
    // would show the estimates of an earlier run.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        summary(&fixture);
    }
}
