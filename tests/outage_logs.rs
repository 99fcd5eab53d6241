//! An outage under load does not flood the log: a stage refusing because its store does not
//! answer logs once when it starts and once when it ends, and a project without a plan is logged
//! once, however many requests it sends. Refusals are counted in telemetry instead.
//!
//! A binary of its own, like `tracing_secrets`: `tracing` caches each callsite's interest for
//! the whole process, so a test of another binary reaching these callsites with no subscriber
//! could switch them off for this test's subscriber.
#![allow(clippy::unwrap_used)]

#[path = "common/captured.rs"]
mod captured;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{Request, Response};
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::limit::{Decision, Limits, RateLimitStore, SlidingWindowRateLimitLayer};
use memorysync_pipeline::quota::{
    AlertThresholds, Plan, QuotaDegradeLayer, QuotaKey, QuotaPlans, QuotaStore, Reservation,
};
use memorysync_pipeline::scope::Scope;
use memorysync_pipeline::store::StoreError;
use tower::{Layer, ServiceExt, service_fn};

use captured::Captured;

/// A shared store that answers while `up` is set; quota counts are never exhausted.
#[derive(Clone, Default)]
struct Flaky {
    up: Arc<AtomicBool>,
}

impl Flaky {
    fn answer<T>(&self, value: T) -> Ready<Result<T, StoreError>> {
        ready(match self.up.load(Ordering::SeqCst) {
            true => Ok(value),
            false => Err(StoreError::new("connection refused")),
        })
    }
}

impl RateLimitStore for Flaky {
    type Check = Ready<Result<Decision, StoreError>>;

    fn check(&self, _: &str, _: Limits, _: Timestamp) -> Self::Check {
        self.answer(Decision::UNLIMITED)
    }
}

impl QuotaStore for Flaky {
    type Reserve = Ready<Result<Reservation, StoreError>>;

    fn reserve(&self, _: &QuotaKey, _: u64, _: AlertThresholds) -> Self::Reserve {
        self.answer(Reservation::Reserved {
            used: 1,
            alerts: AlertThresholds::NONE,
        })
    }

    fn refund(&self, _: &QuotaKey) {}

    fn used(&self, _: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.answer(0)
    }
}

fn list(project: &str) -> Request<String> {
    Request::get("/v1/memories")
        .extension(Scope::new(project, Environment::Development))
        .body(String::new())
        .unwrap()
}

/// The handler behind the stage under test.
fn inner(_: Request<String>) -> Ready<Result<Response<String>, Infallible>> {
    ready(Ok(Response::new(String::new())))
}

/// 100 requests refused during an outage of the rate-limit store, then of the quota store, and
/// 100 of a project without a plan: a couple of lines each, not a hundred.
#[test]
fn a_hundred_refused_requests_during_an_outage_log_a_couple_of_lines() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = Flaky::default();
    let limit = SlidingWindowRateLimitLayer::from_store(store.clone())
        .with_key(|_: &Request<String>| Some("client".to_owned()))
        .with_limits(1_000, 10_000);
    let plans = QuotaPlans::new().with_plan("proj_planned", Plan::new(1_000, 1_000));
    let quota = QuotaDegradeLayer::from_store(plans, store.clone());

    let statuses = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let limited = |project| limit.layer(service_fn(inner)).oneshot(list(project));
            let metered = |project| quota.layer(service_fn(inner)).oneshot(list(project));
            let mut statuses = Vec::new();
            for _ in 0..100 {
                statuses.push(limited("proj_planned").await.unwrap().status());
                statuses.push(metered("proj_planned").await.unwrap().status());
            }
            store.up.store(true, Ordering::SeqCst);
            statuses.push(metered("proj_planned").await.unwrap().status());
            for _ in 0..100 {
                statuses.push(limited("proj_planned").await.unwrap().status());
                statuses.push(metered("proj_unplanned").await.unwrap().status());
            }
            statuses
        })
    });
    assert!(
        statuses[..200].iter().all(|status| *status == 503),
        "{statuses:?}"
    );
    assert!(
        statuses[200..].iter().all(|status| *status == 200),
        "{statuses:?}"
    );

    let lines = captured.lines();
    let about = |word: &str| lines.iter().filter(|line| line.contains(word)).count();
    assert_eq!(about("store unavailable"), 2, "one per stage: {lines:#?}");
    assert_eq!(about("store answers again"), 2, "one per stage: {lines:#?}");
    assert_eq!(about("no quota plan"), 1, "once per project: {lines:#?}");
    assert_eq!(lines.len(), 5, "{lines:#?}");
}
