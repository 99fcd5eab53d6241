//! `SlidingWindowRateLimit` behind `ApiKeyAuth`, over HTTP: admissions and 429s, `Retry-After`,
//! the `RateLimit-Policy` and `RateLimit` fields, keys limited apart, gRPC refusals, the stage
//! used alone, a clock that jumps backwards, a limiter at its bound of keys, and the whole
//! pipeline under an axum `Router`. Time moves only through the fixture's `ManualClock`.

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

#[tokio::test]
async fn the_fourth_request_in_one_instant_under_rps_3_is_429_with_retry_after_1() {
    let limited = Limited::new(Some(3), None).await;
    for _ in 0..3 {
        assert_admitted(&limited.request().await);
    }
    let refused = limited.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(
        limited.calls(),
        3,
        "the refused request reached the inner service"
    );

    limited
        .fixture
        .clock
        .advance(std::time::Duration::from_secs(1));
    assert_admitted(&limited.request().await);
    assert_eq!(limited.calls(), 4);
}

#[tokio::test]
async fn rpm_5_refuses_the_sixth_until_the_first_admission_leaves_the_minute() {
    let limited = Limited::new(Some(100), Some(5)).await;
    let admissions_ms = [0, 2_500, 5_000, 7_500, 10_000];
    for offset in admissions_ms {
        limited.at(offset);
        assert_admitted(&limited.request().await);
    }

    let sixth_ms = 10_300;
    limited.at(sixth_ms);
    let refused = limited.request().await;
    let first_leaves_ms = admissions_ms[0] + 60_000;
    let retry_after = ceil_secs(sixth_ms, first_leaves_ms);
    assert_eq!(retry_after, 50);
    assert_rate_limited(&refused, retry_after);
    assert_eq!(limited.calls(), 5);

    // One millisecond early is still refused; exactly 60 s after the first admission is not.
    limited.at(first_leaves_ms - 1);
    assert_rate_limited(&limited.request().await, 1);
    limited.at(first_leaves_ms);
    assert_admitted(&limited.request().await);
    assert_eq!(limited.calls(), 6);
}

#[tokio::test]
async fn retry_after_is_1_not_0_a_millisecond_before_the_window_frees() {
    let limited = Limited::new(None, Some(1)).await;
    assert_admitted(&limited.request().await);
    limited.at(59_999);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rpm", 0, 1));

    let per_second = Limited::new(Some(1), None).await;
    assert_admitted(&per_second.request().await);
    per_second.at(999);
    let refused = per_second.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rps", 0, 1));
    per_second.at(1_000);
    assert_admitted(&per_second.request().await);
}

#[tokio::test]
async fn admitted_and_refused_responses_carry_the_policy_and_the_remaining_count() {
    let limited = Limited::new(Some(3), Some(300)).await;
    let policy = r#""rps";q=3;w=1, "rpm";q=300;w=60"#;
    // Three admissions within one second: the per-second window is the tightest.
    for (offset, remaining) in [(0, 2), (400, 1), (700, 0)] {
        limited.at(offset);
        let reply = limited.request().await;
        assert_admitted(&reply);
        assert_eq!(reply.header("ratelimit-policy"), policy);
        let field = rate_limit(&reply);
        assert_eq!(field.policy, "rps", "{reply:?}");
        assert_eq!(field.r, remaining, "{reply:?}");
        // The first admission frees a second from now; later ones when it leaves the window.
        assert_eq!(field.t, ceil_secs(offset, 1_000).max(1), "{reply:?}");
        assert!(field.t >= 1);
    }

    limited.at(800);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 1);
    assert_eq!(refused.header("ratelimit-policy"), policy);
    let field = rate_limit(&refused);
    assert_eq!(field, RateLimitField::new("rps", 0, 1));
    assert_eq!(field.t.to_string(), refused.header("retry-after"));
    assert_eq!(limited.calls(), 3);
}

#[tokio::test]
async fn when_the_minute_is_tightest_ratelimit_reports_it_and_t_matches_retry_after() {
    let limited = Limited::new(Some(100), Some(5)).await;
    let policy = r#""rps";q=100;w=1, "rpm";q=5;w=60"#;
    // (offset, remaining in the minute, seconds until the first admission leaves it)
    let expected = [
        (0, 4, 60),
        (2_500, 3, 58),
        (5_000, 2, 55),
        (7_500, 1, 53),
        (10_000, 0, 50),
    ];
    for (offset, remaining, reset) in expected {
        limited.at(offset);
        let reply = limited.request().await;
        assert_admitted(&reply);
        assert_eq!(reply.header("ratelimit-policy"), policy);
        assert_eq!(
            rate_limit(&reply),
            RateLimitField::new("rpm", remaining, reset)
        );
    }
    limited.at(10_300);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 50);
    assert_eq!(refused.header("ratelimit-policy"), policy);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rpm", 0, 50));
}

/// The minute window counts its admissions in 20 groups: at 300 a minute, its oldest group holds
/// the first second's 10 admissions and 5 of the next, ends at +1 s and leaves the window at
/// +61 s. So it may free later than an exact log would (30 s here), never sooner.
#[tokio::test]
async fn ten_a_second_for_thirty_seconds_spends_rpm_300_and_the_minute_refuses_for_31_seconds() {
    let limited = Limited::new(Some(10), Some(300)).await;
    for _ in 0..10 {
        assert_admitted(&limited.request().await);
    }
    assert_rate_limited(&limited.request().await, 1);
    for second in 1..30 {
        limited.at(second * 1_000);
        for _ in 0..10 {
            assert_admitted(&limited.request().await);
        }
    }
    limited.at(30_000);
    let refused = limited.request().await;
    assert_rate_limited(&refused, 31);
    assert_eq!(rate_limit(&refused), RateLimitField::new("rpm", 0, 31));
    assert_eq!(limited.calls(), 300);
}

#[tokio::test]
async fn a_key_with_only_rpm_gets_only_the_rpm_policy() {
    let limited = Limited::new(None, Some(300)).await;
    let reply = limited.request().await;
    assert_admitted(&reply);
    assert_eq!(reply.header("ratelimit-policy"), r#""rpm";q=300;w=60"#);
    assert_eq!(rate_limit(&reply), RateLimitField::new("rpm", 299, 60));
}

#[tokio::test]
async fn a_key_with_only_rps_gets_only_the_rps_policy() {
    let limited = Limited::new(Some(7), None).await;
    let reply = limited.request().await;
    assert_admitted(&reply);
    assert_eq!(reply.header("ratelimit-policy"), r#""rps";q=7;w=1"#);
    assert_eq!(rate_limit(&reply), RateLimitField::new("rps", 6, 1));
}

#[tokio::test]
async fn a_key_without_limits_gets_no_ratelimit_fields_and_is_never_refused() {
    let limited = Limited::new(None, None).await;
    for _ in 0..1_000 {
        let reply = limited.request().await;
        assert_admitted(&reply);
        assert_eq!(reply.headers.get("ratelimit-policy"), None, "{reply:?}");
        assert_eq!(reply.headers.get("ratelimit"), None, "{reply:?}");
        assert_eq!(reply.headers.get("retry-after"), None, "{reply:?}");
    }
    assert_eq!(limited.calls(), 1_000);
}

#[tokio::test]
async fn two_keys_are_limited_independently() {
    let limited = Limited::new(Some(2), None).await;
    let other = limited.add_key("key_other", Some(2), None).await;
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);
    assert_eq!(limited.calls(), 2);

    // Key A is spent; key B has its whole limit at the same instant.
    let first = limited.request_with(&other).await;
    assert_admitted(&first);
    assert_eq!(rate_limit(&first), RateLimitField::new("rps", 1, 1));
    let second = limited.request_with(&other).await;
    assert_admitted(&second);
    assert_eq!(rate_limit(&second), RateLimitField::new("rps", 0, 1));
    assert_rate_limited(&limited.request_with(&other).await, 1);
    assert_eq!(limited.calls(), 4);

    // And B's admissions did not spend A's next second.
    limited.at(1_000);
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);
}

#[tokio::test]
async fn a_grpc_call_over_the_limit_is_resource_exhausted_in_a_200() {
    let limited = Limited::new(Some(2), None).await;
    let grpc_call = || {
        Request::post("/memorysync.v1.Memories/Search")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("x-api-key", limited.fixture.secret())
            .body(String::new())
            .unwrap()
    };
    for _ in 0..2 {
        assert_admitted(&limited.send(grpc_call()).await);
    }
    let refused = limited.send(grpc_call()).await;
    assert_eq!(refused.status, 200, "{refused:?}");
    assert_eq!(refused.header("grpc-status"), "8");
    assert_eq!(refused.header("content-type"), "application/grpc");
    let message = refused.header("grpc-message");
    assert!(message.starts_with(RATE_LIMITED), "grpc-message: {message}");
    assert!(refused.body.is_empty(), "body of a trailers-only answer");
    assert_eq!(
        limited.calls(),
        2,
        "the refused call reached the inner service"
    );
}

#[tokio::test]
async fn the_stage_without_api_key_auth_refuses_401_missing_api_key() {
    let fixture = Fixture::with_key(Environment::Development, |r| {
        r.with_limits(Some(100), Some(1_000))
    })
    .await;
    let limit = SlidingWindowRateLimitLayer::new().with_clock(fixture.clock.clone());
    let service = limit.layer(recording_service(&fixture.recorder));
    // Even a valid key in the headers is no Principal: nothing authenticated it.
    for request in [get_with(&[]), fixture.keyed(), fixture.bearer_request()] {
        let reply = send(service.clone(), request).await;
        assert_problem(&reply, 401, "missing_api_key");
        assert_eq!(reply.headers.get("ratelimit"), None);
    }
    assert_eq!(fixture.recorder.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_clock_jumping_backwards_frees_no_capacity() {
    let limited = Limited::new(Some(2), None).await;
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);

    // Ten seconds back: the key's windows take it as standing still at T0.
    limited.at(-10_000);
    for _ in 0..3 {
        assert_rate_limited(&limited.request().await, 1);
    }
    limited.at(-500);
    assert_rate_limited(&limited.request().await, 1);
    assert_eq!(limited.calls(), 2, "the backwards clock over-admitted");

    limited.at(1_000);
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request().await);
    assert_rate_limited(&limited.request().await, 1);
    assert_eq!(limited.calls(), 4);
}

#[tokio::test]
async fn a_limiter_at_its_bound_refuses_a_new_key_until_the_others_go_idle() {
    let limited = Limited::with_store(Some(10), Some(100), SlidingWindowLimiter::new(2)).await;
    let second = limited.add_key("key_second", Some(10), Some(100)).await;
    let third = limited.add_key("key_third", Some(10), Some(100)).await;
    assert_admitted(&limited.request().await);
    assert_admitted(&limited.request_with(&second).await);
    assert_eq!(limited.limit.store().tracked_keys(), 2);

    let refused = limited.request_with(&third).await;
    assert_rate_limited(&refused, 1);
    assert_eq!(
        limited.calls(),
        2,
        "the refused request reached the inner service"
    );

    // The first two keys are still live in their minute windows: the bound still holds.
    limited.at(1_500);
    assert_rate_limited(&limited.request_with(&third).await, 1);
    assert_eq!(limited.calls(), 2);

    // Both idle for more than a minute: swept out, and the third key gets a place.
    limited.at(61_000);
    assert_admitted(&limited.request_with(&third).await);
    assert_eq!(limited.calls(), 3);
    assert!(limited.limit.store().tracked_keys() <= 2);
}

#[tokio::test]
async fn the_full_pipeline_under_axum_refuses_the_fourth_request_of_an_rps_3_key() {
    let limited = Limited::new(Some(3), None).await;
    let clock = limited.fixture.clock.clone();
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new().with_clock(clock.clone()))
        .stage(limited.fixture.auth_layer())
        .stage(ProjectScopeLayer::new())
        .stage(limited.limit.clone())
        .into_layer();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let list = move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "memories"
        }
    };
    let app = Router::new()
        .route("/v1/memories", get(list))
        .layer(pipeline);
    let request = |path: &str, headers: &[(&str, &str)]| {
        let mut builder =
            Request::get(path).extension(ClientAddr(SocketAddr::from(([192, 0, 2, 7], 40_000))));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    };
    let keyed = [
        ("x-api-key", limited.fixture.secret()),
        ("x-project-id", PROJECT),
    ];

    for remaining in [2, 1, 0] {
        let reply = send(app.clone(), request("/v1/memories", &keyed)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.text(), "memories");
        assert_eq!(reply.header("ratelimit-policy"), r#""rps";q=3;w=1"#);
        assert_eq!(rate_limit(&reply), RateLimitField::new("rps", remaining, 1));
    }
    let refused = send(app.clone(), request("/v1/memories", &keyed)).await;
    assert_rate_limited(&refused, 1);
    assert_eq!(handled.load(Ordering::SeqCst), 3);

    // The health route needs no key and is not the key's limit.
    let health = send(app.clone(), request("/health", &[])).await;
    assert_eq!(health.status, 200, "{health:?}");

    clock.advance(std::time::Duration::from_secs(1));
    let again = send(app, request("/v1/memories", &keyed)).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(handled.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_at_one_instant_admit_exactly_the_limit() {
    let limited = Limited::new(Some(5), Some(300)).await;
    // A counting inner service whose future is known to be `Send`, for `tokio::spawn`.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let inner = service_fn(move |_: Request<String>| {
        counter.fetch_add(1, Ordering::SeqCst);
        ready(Ok::<_, Infallible>(http::Response::new(String::from(
            "inner",
        ))))
    });
    let service = ServiceBuilder::new()
        .layer(limited.fixture.auth_layer())
        .layer(limited.limit.clone())
        .service(inner);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let service = service.clone();
            let request = limited.fixture.keyed();
            tokio::spawn(async move { send(service, request).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == 200 {
            admitted += 1;
        } else {
            assert_rate_limited(&reply, 1);
        }
    }
    assert_eq!(admitted, 5);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

/// A rate-limit store that never answers.
#[derive(Debug)]
struct UnavailableStore;

impl RateLimitStore for UnavailableStore {
    type Check = Ready<Result<Decision, StoreError>>;

    fn check(&self, _key_id: &str, _limits: Limits, _now: Timestamp) -> Self::Check {
        ready(Err(StoreError::new("connection refused")))
    }
}

#[tokio::test]
async fn an_unavailable_store_refuses_503_store_unavailable_without_calling_inside() {
    let limited = Limited::with_store(Some(3), None, UnavailableStore).await;
    let reply = limited.request().await;
    assert_problem(&reply, 503, "store_unavailable");
    assert_eq!(reply.header("retry-after"), "1");
    assert_eq!(limited.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_refusal_by_both_windows_names_the_window_that_holds_the_key_back() {
    let limited = Limited::new(Some(1), Some(1)).await;
    assert_admitted(&limited.request().await);
    limited.at(500);
    let refused = limited.request().await;
    // The minute frees at T0 + 60 s; the second would free at T0 + 1 s.
    assert_rate_limited(&refused, 60);
    let field = rate_limit(&refused);
    assert_eq!(field.t, 60);
    // `t` is the reset of the named policy (draft-ietf-httpapi-ratelimit-headers): the per-second
    // policy resets in under a second, so a `t` of 60 belongs to `rpm`.
    assert_eq!(field, RateLimitField::new("rpm", 0, 60));
}
