//! `SlidingWindowRateLimit` behind `ApiKeyAuth`, over HTTP: admissions and 429s, `Retry-After`,
//! the `RateLimit-Policy` and `RateLimit` fields, keys limited apart, gRPC refusals, the stage
//! used alone, a clock that jumps backwards, a limiter at its bound of keys, and the whole
//! pipeline under an axum `Router`. Time moves only through the fixture's `ManualClock`.

mod edges;
mod fields;
mod integration;
mod refusals;
mod windows;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{
    Fixture, PROJECT, Reply, T0, assert_problem, get_with, recording_service, send,
};
use axum::Router;
use axum::routing::get;
use http::Request;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore};
use memorysync_pipeline::limit::{
    Decision, Limits, RateLimitStore, SlidingWindowLimiter, SlidingWindowRateLimitLayer,
};
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::store::StoreError;
use memorysync_pipeline::{ClientAddr, Environment};
use tower::{Layer, ServiceBuilder, service_fn};

const RATE_LIMITED: &str = "rate_limited";

/// The fixture's key with the given limits, and a rate-limit layer reading the fixture's clock.
#[derive(Debug)]
struct Limited<S = SlidingWindowLimiter> {
    fixture: Fixture,
    limit: SlidingWindowRateLimitLayer<S>,
}

impl Limited {
    /// The fixture's key (`key_demo`) limited to `rps` and `rpm`, on a default limiter.
    async fn new(rps: Option<u32>, rpm: Option<u32>) -> Self {
        Self::with_store(rps, rpm, SlidingWindowLimiter::default()).await
    }
}

impl<S: RateLimitStore> Limited<S> {
    /// The fixture's key limited to `rps` and `rpm`, its windows kept in `store`.
    async fn with_store(rps: Option<u32>, rpm: Option<u32>, store: S) -> Self {
        let fixture =
            Fixture::with_key(Environment::Development, |r| r.with_limits(rps, rpm)).await;
        let limit =
            SlidingWindowRateLimitLayer::from_store(store).with_clock(fixture.clock.clone());
        Limited { fixture, limit }
    }

    /// Files one more key of `PROJECT` under `id` with these limits, in the fixture's store.
    async fn add_key(&self, id: &str, rps: Option<u32>, rpm: Option<u32>) -> ApiKey {
        let key = ApiKey::generate(Environment::Development).unwrap();
        let record =
            KeyRecord::new(id, key.hash(), PROJECT, Environment::Development).with_limits(rps, rpm);
        self.fixture.store.insert(record, T0).await.unwrap();
        key
    }

    /// Sends `request` through auth, then the rate limit, then the recording inner service.
    async fn send(&self, request: Request<String>) -> Reply {
        let service = ServiceBuilder::new()
            .layer(self.fixture.auth_layer())
            .layer(self.limit.clone())
            .service(recording_service(&self.fixture.recorder));
        send(service, request).await
    }

    /// A plain request with the fixture's own key.
    async fn request(&self) -> Reply {
        self.send(self.fixture.keyed()).await
    }

    /// A plain request with `key`.
    async fn request_with(&self, key: &ApiKey) -> Reply {
        self.send(get_with(&[("x-api-key", key.expose_secret())]))
            .await
    }

    /// Puts the clock `offset_ms` milliseconds after `T0` (before it, when negative).
    fn at(&self, offset_ms: i64) {
        let at = Timestamp::from_unix_millis(T0.unix_millis() + offset_ms);
        self.fixture.clock.set(at);
    }

    /// How often the inner service ran.
    fn calls(&self) -> usize {
        self.fixture.recorder.calls()
    }
}

/// The reply is the inner service's 200.
#[track_caller]
fn assert_admitted(reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "inner");
}

/// The reply is a 429 `rate_limited` problem with `Retry-After: retry_after`.
#[track_caller]
fn assert_rate_limited(reply: &Reply, retry_after: u64) {
    assert_problem(reply, 429, RATE_LIMITED);
    assert_eq!(reply.header("retry-after"), retry_after.to_string());
}

/// The one member of a `RateLimit` field: `"<policy>";r=<remaining>;t=<reset>`.
#[derive(Debug, PartialEq, Eq)]
struct RateLimitField {
    policy: String,
    r: u64,
    t: u64,
}

impl RateLimitField {
    fn new(policy: &str, r: u64, t: u64) -> Self {
        RateLimitField {
            policy: policy.to_owned(),
            r,
            t,
        }
    }
}

/// Parses the reply's `RateLimit` field, which must hold exactly one member with `r` and `t`.
#[track_caller]
fn rate_limit(reply: &Reply) -> RateLimitField {
    let text = reply.header("ratelimit");
    assert!(!text.contains(','), "more than one member in `{text}`");
    let mut items = text.split(';');
    let name = items.next().unwrap().trim();
    let policy = name
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("the policy name is not a quoted string in `{text}`"));
    let (mut r, mut t) = (None, None);
    for item in items {
        let (param, value) = item
            .trim()
            .split_once('=')
            .unwrap_or_else(|| panic!("parameter without a value in `{text}`"));
        let value: u64 = value
            .parse()
            .unwrap_or_else(|_| panic!("`{param}` is not an integer in `{text}`"));
        let slot = match param {
            "r" => &mut r,
            "t" => &mut t,
            other => panic!("unexpected parameter `{other}` in `{text}`"),
        };
        assert!(slot.replace(value).is_none(), "`{param}` twice in `{text}`");
    }
    RateLimitField {
        policy: policy.to_owned(),
        r: r.unwrap_or_else(|| panic!("no `r` in `{text}`")),
        t: t.unwrap_or_else(|| panic!("no `t` in `{text}`")),
    }
}

/// Whole seconds from `now_ms` until `until_ms`, rounded up.
fn ceil_secs(now_ms: i64, until_ms: i64) -> u64 {
    u64::try_from(until_ms - now_ms).unwrap().div_ceil(1000)
}
