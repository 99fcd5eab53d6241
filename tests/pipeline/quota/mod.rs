//! `QuotaDegrade` over HTTP: adds and queries counted apart and never past the plan, the silent
//! degraded answer (JSON and gRPC), calendar months in UTC, refunds of failed calls, races for
//! the last unit, usage alerts once per threshold and month, unmetered routes, a custom
//! classifier, the degraded answer's options, projects without a plan, a request without a
//! scope, and the stage behind `ApiKeyAuth` and `ProjectScope`. Time moves only through a
//! `ManualClock`.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{Fixture, PROJECT, Reply, T0, assert_problem, recording_service, send};
use http::{Extensions, HeaderName, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, ManualClock, Timestamp};
use memorysync_pipeline::quota::{
    AlertThresholds, Classify, DefaultClassifier, EMPTY_RESULTS, MemoryQuotaStore, Month,
    Operation, Plan, QuotaAlert, QuotaDegradeLayer, QuotaDegraded, QuotaKey, QuotaPlans,
    QuotaStore,
};
use memorysync_pipeline::scope::{ProjectScopeLayer, Scope};
use tokio::sync::Barrier;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

/// The error the inner service can be told to fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Boom;

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

/// How the inner service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// This status with the body `inner`.
    Status(StatusCode),
    /// `Err(Boom)`.
    Fail,
    /// A trailers-only gRPC answer: HTTP 200 with this `grpc-status` in the headers.
    Grpc(u8),
}

/// The inner service's state: how often it ran, and how it answers next.
#[derive(Debug)]
struct Backend {
    calls: AtomicUsize,
    answer: Mutex<Answer>,
}

impl Backend {
    fn new() -> Arc<Self> {
        Arc::new(Backend {
            calls: AtomicUsize::new(0),
            answer: Mutex::new(Answer::Status(StatusCode::OK)),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn status(&self, status: u16) {
        self.answer(Answer::Status(StatusCode::from_u16(status).unwrap()));
    }

    /// A `service_fn` that counts its calls and answers as told.
    fn service(
        self: &Arc<Self>,
    ) -> impl Service<Request<String>, Response = Response<Full<Bytes>>, Error = Boom, Future: Send>
    + Clone
    + Send
    + 'static {
        let backend = Arc::clone(self);
        service_fn(move |_request: Request<String>| {
            let backend = Arc::clone(&backend);
            async move {
                backend.calls.fetch_add(1, Ordering::SeqCst);
                // Let racing requests interleave while this one is inside.
                tokio::task::yield_now().await;
                let answer = *backend.answer.lock().unwrap();
                match answer {
                    Answer::Status(status) => {
                        let mut response = Response::new(Full::new(Bytes::from_static(b"inner")));
                        *response.status_mut() = status;
                        Ok(response)
                    }
                    Answer::Fail => Err(Boom),
                    Answer::Grpc(code) => Ok(Response::builder()
                        .header("content-type", "application/grpc")
                        .header("grpc-status", code.to_string())
                        .body(Full::new(Bytes::new()))
                        .unwrap()),
                }
            }
        })
    }
}

/// A reply with the response's extensions kept.
#[derive(Debug)]
struct Outcome {
    reply: Reply,
    extensions: Extensions,
}

impl Outcome {
    fn degraded(&self) -> Option<QuotaDegraded> {
        self.extensions.get::<QuotaDegraded>().copied()
    }

    fn status(&self) -> StatusCode {
        self.reply.status
    }

    fn text(&self) -> &str {
        self.reply.text()
    }
}

/// Sends `request` through `service` and reads the whole response, trailers included.
async fn exchange<S, B>(service: S, request: Request<String>) -> Result<Outcome, S::Error>
where
    S: Service<Request<String>, Response = Response<B>>,
    B: http_body::Body,
    B::Error: fmt::Debug,
{
    let response = service.oneshot(request).await?;
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Ok(Outcome {
        reply: Reply {
            status: parts.status,
            headers: parts.headers,
            body: collected.to_bytes(),
            trailers,
        },
        extensions: parts.extensions,
    })
}

/// A quota layer over plans, a manual clock and a counting backend.
struct Quota<C = DefaultClassifier> {
    layer: QuotaDegradeLayer<MemoryQuotaStore, C>,
    clock: ManualClock,
    backend: Arc<Backend>,
}

impl Quota {
    /// `PROJECT` on a plan of `adds` and `queries` a month; the clock at `T0` (2027-01-15).
    fn new(adds: u64, queries: u64) -> Self {
        let clock = ManualClock::new(T0);
        let plans = QuotaPlans::new().with_plan(PROJECT, Plan::new(adds, queries));
        let layer = QuotaDegradeLayer::new(plans).with_clock(clock.clone());
        Quota {
            layer,
            clock,
            backend: Backend::new(),
        }
    }
}

impl<C: Classify> Quota<C> {
    /// The same plans, clock and backend, with the layer changed by `edit`.
    fn map<C2>(
        self,
        edit: impl FnOnce(
            QuotaDegradeLayer<MemoryQuotaStore, C>,
        ) -> QuotaDegradeLayer<MemoryQuotaStore, C2>,
    ) -> Quota<C2> {
        Quota {
            layer: edit(self.layer),
            clock: self.clock,
            backend: self.backend,
        }
    }

    async fn try_send(&self, request: Request<String>) -> Result<Outcome, Boom> {
        exchange(self.layer.layer(self.backend.service()), request).await
    }

    async fn send(&self, request: Request<String>) -> Outcome {
        self.try_send(request).await.unwrap()
    }

    /// Units of `operation` used by `PROJECT` in the clock's month.
    async fn used(&self, operation: Operation) -> u64 {
        self.used_in(operation, Month::of(self.clock_now())).await
    }

    async fn used_in(&self, operation: Operation, month: Month) -> u64 {
        self.layer
            .store()
            .used(&key(PROJECT, operation, month))
            .await
            .unwrap()
    }

    fn clock_now(&self) -> Timestamp {
        self.clock.now()
    }

    fn set(&self, at: &str) {
        self.clock.set(at_time(at));
    }

    /// Sends `request`, expects the inner service's 200, and that it ran once more.
    async fn assert_served(&self, request: Request<String>) {
        let before = self.backend.calls();
        let outcome = self.send(request).await;
        assert_served(&outcome);
        assert_eq!(
            self.backend.calls(),
            before + 1,
            "the inner service did not run"
        );
    }

    /// Sends `request`, expects the degraded answer of `operation`, and that the inner service
    /// did not run.
    async fn assert_degraded(&self, request: Request<String>, operation: Operation) -> Outcome {
        let before = self.backend.calls();
        let outcome = self.send(request).await;
        assert_degraded(&outcome, operation);
        assert_eq!(self.backend.calls(), before, "the inner service ran");
        outcome
    }
}

fn key(project: &str, operation: Operation, month: Month) -> QuotaKey {
    QuotaKey {
        project: project.into(),
        operation,
        month,
    }
}

fn month(year: i32, number: u8) -> Month {
    Month::new(year, number).unwrap()
}

fn at_time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// `method path` scoped to `project` in development.
fn scoped_to(project: &str, method: Method, path: &str) -> Request<String> {
    Request::builder()
        .method(method)
        .uri(path)
        .extension(Scope::new(project, Environment::Development))
        .body(String::new())
        .unwrap()
}

fn request(method: Method, path: &str) -> Request<String> {
    scoped_to(PROJECT, method, path)
}

/// `POST /v1/memories`: an add.
fn add() -> Request<String> {
    request(Method::POST, "/v1/memories")
}

/// `POST /v1/memories/search`: a query.
fn search() -> Request<String> {
    request(Method::POST, "/v1/memories/search")
}

/// `GET /v1/memories`: a query.
fn list() -> Request<String> {
    request(Method::GET, "/v1/memories")
}

/// `request` sent as gRPC.
fn grpc(mut request: Request<String>) -> Request<String> {
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    request
}

#[track_caller]
fn assert_served(outcome: &Outcome) {
    assert_eq!(outcome.status(), 200, "{outcome:?}");
    assert_eq!(outcome.text(), "inner");
    assert_eq!(
        outcome.degraded(),
        None,
        "a served response is marked degraded"
    );
}

#[track_caller]
fn assert_degraded(outcome: &Outcome, operation: Operation) {
    assert_eq!(outcome.status(), 200, "{outcome:?}");
    assert_eq!(outcome.reply.header("content-type"), "application/json");
    assert_eq!(outcome.reply.body, EMPTY_RESULTS);
    assert_eq!(outcome.text(), r#"{"results":[]}"#);
    assert_eq!(outcome.degraded(), Some(QuotaDegraded { operation }));
}

// ---- exhausting a plan ----

#[tokio::test]
async fn the_fourth_add_of_a_three_add_plan_is_an_empty_result_without_calling_inside() {
    let quota = Quota::new(3, 100);
    for used in 1..=3 {
        quota.assert_served(add()).await;
        assert_eq!(quota.used(Operation::Add).await, used);
    }
    let outcome = quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(outcome.reply.trailers, None);
    assert_eq!(quota.backend.calls(), 3);
    assert_eq!(quota.used(Operation::Add).await, 3);
}

#[tokio::test]
async fn degraded_adds_leave_the_counter_at_the_limit() {
    let quota = Quota::new(3, 100);
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    for _ in 0..11 {
        quota.assert_degraded(add(), Operation::Add).await;
        assert_eq!(quota.used(Operation::Add).await, 3);
    }
    assert_eq!(quota.backend.calls(), 3);
}

#[tokio::test]
async fn queries_are_served_and_counted_apart_after_adds_run_out() {
    let quota = Quota::new(3, 100);
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used(Operation::Query).await, 0);

    quota.assert_served(search()).await;
    quota.assert_served(list()).await;
    quota.assert_served(search()).await;
    assert_eq!(quota.used(Operation::Query).await, 3);
    assert_eq!(quota.used(Operation::Add).await, 3);
    quota.assert_degraded(add(), Operation::Add).await;
}

#[tokio::test]
async fn queries_run_out_on_their_own_and_adds_are_still_served() {
    let quota = Quota::new(100, 2);
    quota.assert_served(search()).await;
    quota.assert_served(list()).await;
    quota.assert_degraded(search(), Operation::Query).await;
    quota.assert_degraded(list(), Operation::Query).await;
    assert_eq!(quota.used(Operation::Query).await, 2);

    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
}

#[tokio::test]
async fn a_plan_of_zero_degrades_the_first_request() {
    let quota = Quota::new(0, 0);
    quota.assert_degraded(add(), Operation::Add).await;
    quota.assert_degraded(list(), Operation::Query).await;
    assert_eq!(quota.used(Operation::Add).await, 0);
    assert_eq!(quota.used(Operation::Query).await, 0);
}

// ---- calendar months in UTC ----

#[tokio::test]
async fn exhausted_on_the_last_millisecond_of_december_is_served_again_in_january() {
    let quota = Quota::new(3, 100);
    quota.set("2026-12-31T23:59:59.999Z");
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 3);

    quota.set("2027-01-01T00:00:00Z");
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 1);
    // December's count is kept for billing, untouched.
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 3);
}

#[tokio::test]
async fn exhausted_on_the_leap_day_is_served_again_on_the_first_of_march() {
    let quota = Quota::new(3, 100);
    quota.set("2028-02-01T00:00:00Z");
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.set("2028-02-29T23:59:59Z");
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2028, 2)).await, 3);

    quota.set("2028-03-01T00:00:00Z");
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2028, 3)).await, 1);
}

#[tokio::test]
async fn a_local_time_already_in_january_but_still_december_in_utc_stays_degraded() {
    let quota = Quota::new(3, 100);
    quota.set("2026-12-31T20:00:00Z");
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    // 00:30 on New Year's Day in UTC+1 and 09:00 in UTC+14 are both still December in UTC.
    quota.set("2027-01-01T00:30:00+01:00");
    quota.assert_degraded(add(), Operation::Add).await;
    quota.set("2027-01-01T09:00:00+14:00");
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 3);
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 0);

    // 23:30 on New Year's Eve in UTC-1 is already January in UTC.
    quota.set("2026-12-31T23:30:00-01:00");
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 1);
}

#[tokio::test]
async fn a_clock_back_in_the_previous_month_finds_that_months_count() {
    let quota = Quota::new(3, 100);
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    quota.set("2027-02-01T00:00:00Z");
    quota.assert_served(add()).await;
    // Clocks do jump backwards: January's count is kept, so January stays used up.
    quota.set("2027-01-31T23:00:00Z");
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 3);
    assert_eq!(quota.used_in(Operation::Add, month(2027, 2)).await, 1);
}

// ---- refunds ----

#[tokio::test]
async fn a_5xx_from_inside_gives_the_unit_back() {
    let quota = Quota::new(1, 100);
    for status in [500, 502, 503] {
        quota.backend.status(status);
        let outcome = quota.send(add()).await;
        assert_eq!(outcome.status(), status, "{outcome:?}");
        assert_eq!(outcome.text(), "inner", "the inner 5xx is passed through");
        assert_eq!(outcome.degraded(), None);
        assert_eq!(quota.used(Operation::Add).await, 0);
    }
    assert_eq!(quota.backend.calls(), 3);

    quota.backend.status(200);
    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
    quota.assert_degraded(add(), Operation::Add).await;
}

#[tokio::test]
async fn an_error_from_inside_gives_the_unit_back() {
    let quota = Quota::new(1, 100);
    quota.backend.answer(Answer::Fail);
    let error = quota.try_send(add()).await.unwrap_err();
    assert_eq!(error, Boom);
    assert_eq!(quota.backend.calls(), 1);
    assert_eq!(quota.used(Operation::Add).await, 0);

    quota.backend.status(200);
    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
}

#[tokio::test]
async fn a_grpc_server_failure_in_a_trailers_only_answer_gives_the_unit_back() {
    let quota = Quota::new(3, 100);
    // INTERNAL and UNAVAILABLE: the gRPC counterparts of a 5xx.
    for code in [13, 14] {
        quota.backend.answer(Answer::Grpc(code));
        assert_eq!(quota.send(add()).await.status(), 200);
        assert_eq!(quota.used(Operation::Add).await, 0, "grpc-status {code}");
    }
    // INVALID_ARGUMENT is the caller's, like a 4xx; OK is a success: both keep the unit.
    for (used, code) in [(1, 3), (2, 0)] {
        quota.backend.answer(Answer::Grpc(code));
        quota.send(add()).await;
        assert_eq!(quota.used(Operation::Add).await, used, "grpc-status {code}");
    }
}

#[tokio::test]
async fn a_4xx_from_inside_keeps_the_unit_spent() {
    let quota = Quota::new(3, 100);
    for (used, status) in [(1, 400), (2, 404), (3, 422)] {
        quota.backend.status(status);
        let outcome = quota.send(add()).await;
        assert_eq!(outcome.status(), status, "{outcome:?}");
        assert_eq!(quota.used(Operation::Add).await, used);
    }
    quota.backend.status(200);
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.used(Operation::Add).await, 3);
}

#[tokio::test]
async fn a_5xx_to_a_query_refunds_the_query_not_an_add() {
    let quota = Quota::new(5, 1);
    quota.assert_served(add()).await;
    quota.backend.status(500);
    assert_eq!(quota.send(search()).await.status(), 500);
    assert_eq!(quota.used(Operation::Query).await, 0);
    assert_eq!(quota.used(Operation::Add).await, 1);
}

#[tokio::test]
async fn a_refund_after_midnight_goes_back_to_the_month_it_was_taken_from() {
    let quota = Quota::new(1, 100);
    quota.set("2026-12-31T23:59:59.999Z");
    let clock = quota.clock.clone();
    // The call starts in December and fails in January.
    let slow_failure = service_fn(move |_: Request<String>| {
        clock.set(at_time("2027-01-01T00:00:00.500Z"));
        let mut response = Response::new(Full::new(Bytes::from_static(b"inner")));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        std::future::ready(Ok::<_, Boom>(response))
    });
    let outcome = exchange(quota.layer.layer(slow_failure), add())
        .await
        .unwrap();
    assert_eq!(outcome.status(), 500);
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 0);
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 0);
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 1);
}

// ---- races ----

/// `racers` adds sent at once on a multi-threaded runtime, after `prefill` sequential ones, to
/// a plan of `limit` adds: returns how many were served and how many degraded.
async fn race(limit: u64, prefill: u64, racers: usize) -> (Quota, usize, usize) {
    let quota = Quota::new(limit, 1);
    for _ in 0..prefill {
        quota.assert_served(add()).await;
    }
    let service = quota.layer.layer(quota.backend.service());
    let barrier = Arc::new(Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|_| {
            let service = service.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                exchange(service, add()).await.unwrap()
            })
        })
        .collect();
    let (mut served, mut degraded) = (0, 0);
    for task in tasks {
        let outcome = task.await.unwrap();
        if outcome.degraded().is_some() {
            assert_degraded(&outcome, Operation::Add);
            degraded += 1;
        } else {
            assert_served(&outcome);
            served += 1;
        }
    }
    (quota, served, degraded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_racers_for_the_last_unit_never_both_get_it() {
    for _ in 0..200 {
        let (quota, served, degraded) = race(5, 4, 2).await;
        assert_eq!((served, degraded), (1, 1));
        assert_eq!(quota.backend.calls(), 5);
        assert_eq!(quota.used(Operation::Add).await, 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_racers_for_the_last_unit_never_both_get_it() {
    for _ in 0..100 {
        let (quota, served, degraded) = race(5, 4, 8).await;
        assert_eq!((served, degraded), (1, 7));
        assert_eq!(quota.backend.calls(), 5);
        assert_eq!(quota.used(Operation::Add).await, 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_times_the_limit_at_once_serves_exactly_the_limit() {
    for limit in [1, 2, 8, 50] {
        let racers = usize::try_from(limit * 4).unwrap();
        let (quota, served, degraded) = race(limit, 0, racers).await;
        let limit_calls = usize::try_from(limit).unwrap();
        assert_eq!(served, limit_calls, "limit {limit}");
        assert_eq!(degraded, racers - limit_calls, "limit {limit}");
        assert_eq!(quota.backend.calls(), limit_calls, "limit {limit}");
        assert_eq!(quota.used(Operation::Add).await, limit, "limit {limit}");
    }
}

// ---- alerts ----

type Alerts = Arc<Mutex<Vec<QuotaAlert>>>;

/// A quota whose alerts are collected.
fn alerting(adds: u64, queries: u64) -> (Quota, Alerts) {
    let alerts = Alerts::default();
    let sink = Arc::clone(&alerts);
    let quota = Quota::new(adds, queries).map(|layer| {
        layer.with_alerts(move |alert: &QuotaAlert| sink.lock().unwrap().push(alert.clone()))
    });
    (quota, alerts)
}

/// The alerts so far, in the order they fired. A copy, so that no assertion (or its message)
/// holds the lock.
fn fired(alerts: &Alerts) -> Vec<QuotaAlert> {
    alerts.lock().unwrap().clone()
}

/// The alerts so far, by month and threshold: concurrent requests push them in any order.
fn sorted(alerts: &Alerts) -> Vec<QuotaAlert> {
    let mut alerts = fired(alerts);
    alerts.sort_by_key(|a| (a.month, a.operation, a.threshold));
    alerts
}

fn alert(month: Month, threshold: u8, used: u64, limit: u64) -> QuotaAlert {
    QuotaAlert {
        project: PROJECT.into(),
        operation: Operation::Add,
        month,
        threshold,
        used,
        limit,
    }
}

/// `count` adds at once on `quota`'s service; returns how many were served.
async fn burst(quota: &Quota, count: usize) -> usize {
    let service = quota.layer.layer(quota.backend.service());
    let barrier = Arc::new(Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let service = service.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                exchange(service, add()).await.unwrap()
            })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        if task.await.unwrap().degraded().is_none() {
            served += 1;
        }
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_fire_once_each_under_concurrency() {
    let (quota, alerts) = alerting(100, 1000);
    assert_eq!(burst(&quota, 400).await, 100);
    let jan = month(2027, 1);
    let fired = sorted(&alerts);
    assert_eq!(
        fired,
        vec![
            alert(jan, 75, 75, 100),
            alert(jan, 90, 90, 100),
            alert(jan, 100, 100, 100)
        ]
    );
    let events: Vec<_> = fired.iter().map(QuotaAlert::event_type).collect();
    assert_eq!(
        events,
        ["quota.threshold", "quota.threshold", "quota.exhausted"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_at_the_top_and_a_second_crossing_do_not_fire_again_the_same_month() {
    let (quota, alerts) = alerting(100, 1000);
    assert_eq!(burst(&quota, 400).await, 100);
    assert_eq!(fired(&alerts).len(), 3, "{:?}", sorted(&alerts));
    let jan = key(PROJECT, Operation::Add, month(2027, 1));

    // The unit at the top goes back (as a failed call's would), then is taken again by a call
    // that fails with a 5xx, then by one that is served: 100% is crossed twice more.
    quota.layer.store().refund(&jan);
    assert_eq!(quota.used(Operation::Add).await, 99);
    quota.backend.status(503);
    assert_eq!(quota.send(add()).await.status(), 503);
    assert_eq!(quota.used(Operation::Add).await, 99);
    quota.backend.status(200);
    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 100);
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(fired(&alerts).len(), 3, "{:?}", sorted(&alerts));

    // A new month counts and alerts afresh.
    quota.set("2027-02-01T00:00:00Z");
    assert_eq!(burst(&quota, 400).await, 100);
    let feb = month(2027, 2);
    let fired = sorted(&alerts);
    assert_eq!(fired.len(), 6, "{fired:?}");
    assert_eq!(
        fired[3..],
        [
            alert(feb, 75, 75, 100),
            alert(feb, 90, 90, 100),
            alert(feb, 100, 100, 100)
        ]
    );
}

#[tokio::test]
async fn the_third_add_of_a_three_unit_plan_fires_75_90_and_100_together() {
    let (quota, alerts) = alerting(3, 100);
    quota.assert_served(add()).await;
    quota.assert_served(add()).await;
    assert_eq!(fired(&alerts), []);
    quota.assert_served(add()).await;
    let jan = month(2027, 1);
    assert_eq!(
        fired(&alerts),
        [
            alert(jan, 75, 3, 3),
            alert(jan, 90, 3, 3),
            alert(jan, 100, 3, 3)
        ]
    );
    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(fired(&alerts).len(), 3);
}

#[tokio::test]
async fn a_plans_own_thresholds_replace_the_defaults() {
    let alerts = Alerts::default();
    let sink = Arc::clone(&alerts);
    let clock = ManualClock::new(T0);
    let plans = QuotaPlans::new()
        .with_plan(
            PROJECT,
            Plan {
                alert_thresholds: AlertThresholds::new([50]),
                ..Plan::new(4, 4)
            },
        )
        .with_plan(
            "proj_quiet",
            Plan {
                alert_thresholds: AlertThresholds::NONE,
                ..Plan::new(1, 1)
            },
        );
    let layer = QuotaDegradeLayer::new(plans)
        .with_clock(clock)
        .with_alerts(move |alert: &QuotaAlert| sink.lock().unwrap().push(alert.clone()));
    let backend = Backend::new();
    let send = |request| exchange(layer.layer(backend.service()), request);
    for _ in 0..5 {
        send(add()).await.unwrap();
        send(scoped_to("proj_quiet", Method::POST, "/v1/memories"))
            .await
            .unwrap();
    }
    assert_eq!(fired(&alerts), [alert(month(2027, 1), 50, 2, 4)]);
    assert_eq!(fired(&alerts)[0].event_type(), "quota.threshold");
}

#[tokio::test]
async fn query_alerts_name_the_query_operation() {
    let (quota, alerts) = alerting(100, 4);
    for _ in 0..3 {
        quota.assert_served(search()).await;
    }
    let fired = sorted(&alerts);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].operation, Operation::Query);
    assert_eq!(
        (fired[0].threshold, fired[0].used, fired[0].limit),
        (75, 3, 4)
    );
}

// ---- unmetered routes ----

fn unmetered_routes() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/health"),
        (Method::DELETE, "/v1/memories/x"),
        (Method::PUT, "/v1/memories"),
        (Method::GET, "/v1/other"),
        (Method::GET, "/v1/memories/search"),
        (Method::POST, "/v1/memories/x"),
    ]
}

#[tokio::test]
async fn unmetered_routes_are_never_counted_even_after_exhaustion() {
    let quota = Quota::new(1, 1);
    for (method, path) in unmetered_routes() {
        quota.assert_served(request(method, path)).await;
    }
    assert_eq!(quota.used(Operation::Add).await, 0);
    assert_eq!(quota.used(Operation::Query).await, 0);

    quota.assert_served(add()).await;
    quota.assert_served(list()).await;
    quota.assert_degraded(add(), Operation::Add).await;
    quota.assert_degraded(list(), Operation::Query).await;
    for _ in 0..3 {
        for (method, path) in unmetered_routes() {
            quota.assert_served(request(method, path)).await;
        }
    }
    assert_eq!(quota.used(Operation::Add).await, 1);
    assert_eq!(quota.used(Operation::Query).await, 1);
}

#[tokio::test]
async fn unmetered_routes_need_no_scope() {
    let quota = Quota::new(1, 1);
    for (method, path) in unmetered_routes() {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(String::new())
            .unwrap();
        quota.assert_served(request).await;
    }
}

#[tokio::test]
async fn a_trailing_slash_or_a_query_string_is_the_same_route() {
    let quota = Quota::new(2, 2);
    quota
        .assert_served(request(Method::POST, "/v1/memories/"))
        .await;
    quota
        .assert_served(request(Method::GET, "/v1/memories?limit=5"))
        .await;
    assert_eq!(quota.used(Operation::Add).await, 1);
    assert_eq!(quota.used(Operation::Query).await, 1);
}

// ---- a custom classifier ----

const GRPC_ADD: &str = "/memorysync.Memories/Add";
const GRPC_SEARCH: &str = "/memorysync.Memories/Search";

fn grpc_classifier(method: &Method, path: &str) -> Option<Operation> {
    match (method, path) {
        (&Method::POST, GRPC_ADD) => Some(Operation::Add),
        (&Method::POST, GRPC_SEARCH) => Some(Operation::Query),
        _ => None,
    }
}

#[tokio::test]
async fn a_custom_classifier_meters_a_grpc_path() {
    let quota = Quota::new(2, 5)
        .map(|layer| layer.with_classifier(|m: &Method, p: &str| grpc_classifier(m, p)));
    quota
        .assert_served(grpc(request(Method::POST, GRPC_ADD)))
        .await;
    quota
        .assert_served(grpc(request(Method::POST, GRPC_ADD)))
        .await;
    assert_eq!(quota.used(Operation::Add).await, 2);
    quota
        .assert_served(grpc(request(Method::POST, GRPC_SEARCH)))
        .await;
    assert_eq!(quota.used(Operation::Query).await, 1);

    // The default routes are unmetered now.
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    assert_eq!(quota.used(Operation::Add).await, 2);

    let before = quota.backend.calls();
    let outcome = quota.send(grpc(request(Method::POST, GRPC_ADD))).await;
    assert_grpc_degraded(&outcome, Operation::Add);
    assert_eq!(quota.backend.calls(), before);
    assert_eq!(quota.used(Operation::Add).await, 2);
}

// ---- gRPC ----

#[track_caller]
fn assert_grpc_degraded(outcome: &Outcome, operation: Operation) {
    assert_eq!(outcome.status(), 200, "{outcome:?}");
    assert_eq!(outcome.reply.header("content-type"), "application/grpc");
    assert_eq!(outcome.reply.body, &[0u8, 0, 0, 0, 0][..]);
    let trailers = outcome.reply.trailers.as_ref().expect("no trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(outcome.degraded(), Some(QuotaDegraded { operation }));
}

#[tokio::test]
async fn a_degraded_grpc_request_gets_status_ok_with_one_empty_message() {
    let quota = Quota::new(1, 1);
    quota.assert_served(grpc(add())).await;
    let outcome = quota.send(grpc(add())).await;
    assert_grpc_degraded(&outcome, Operation::Add);
    // A query degrades the same way: the empty message is the same for every message type.
    quota.assert_served(grpc(search())).await;
    let outcome = quota.send(grpc(search())).await;
    assert_grpc_degraded(&outcome, Operation::Query);
    assert_eq!(quota.backend.calls(), 2);
}

#[tokio::test]
async fn a_grpc_content_type_with_a_suffix_is_grpc_too() {
    let quota = Quota::new(0, 0);
    let mut request = add();
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc+proto"),
    );
    let outcome = quota.send(request).await;
    assert_grpc_degraded(&outcome, Operation::Add);
}

// ---- the degraded answer's options ----

#[tokio::test]
async fn a_custom_empty_result_changes_only_that_operation() {
    let custom = r#"{"results":[],"degraded":true}"#;
    let quota = Quota::new(0, 0).map(|layer| layer.with_empty_result(Operation::Query, custom));
    let outcome = quota.send(search()).await;
    assert_eq!(outcome.status(), 200);
    assert_eq!(outcome.reply.header("content-type"), "application/json");
    assert_eq!(outcome.text(), custom);
    assert_eq!(
        outcome.degraded(),
        Some(QuotaDegraded {
            operation: Operation::Query
        })
    );
    assert_eq!(quota.send(list()).await.text(), custom);

    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.backend.calls(), 0);
}

#[tokio::test]
async fn a_custom_empty_result_for_adds_leaves_queries_alone() {
    let quota =
        Quota::new(0, 0).map(|layer| layer.with_empty_result(Operation::Add, "{\"id\":null}"));
    assert_eq!(quota.send(add()).await.text(), r#"{"id":null}"#);
    quota.assert_degraded(search(), Operation::Query).await;
}

#[tokio::test]
async fn no_degraded_header_by_default() {
    let quota = Quota::new(1, 1);
    let served = quota.send(add()).await;
    let degraded = quota.send(add()).await;
    assert_degraded(&degraded, Operation::Add);
    for outcome in [&served, &degraded] {
        assert_eq!(outcome.reply.headers.get("x-quota-degraded"), None);
    }
}

#[tokio::test]
async fn the_degraded_header_names_the_operation_on_degraded_responses_only() {
    let quota = Quota::new(1, 1)
        .map(|layer| layer.with_degraded_header(HeaderName::from_static("x-quota-degraded")));

    let served = quota.send(add()).await;
    assert_served(&served);
    assert_eq!(served.reply.headers.get("x-quota-degraded"), None);
    let degraded = quota.send(add()).await;
    assert_degraded(&degraded, Operation::Add);
    assert_eq!(degraded.reply.header("x-quota-degraded"), "add");

    let served = quota.send(search()).await;
    assert_served(&served);
    assert_eq!(served.reply.headers.get("x-quota-degraded"), None);
    let degraded = quota.send(list()).await;
    assert_degraded(&degraded, Operation::Query);
    assert_eq!(degraded.reply.header("x-quota-degraded"), "query");

    let unmetered = quota.send(request(Method::GET, "/health")).await;
    assert_eq!(unmetered.reply.headers.get("x-quota-degraded"), None);
    assert_eq!(unmetered.degraded(), None);

    let degraded = quota.send(grpc(add())).await;
    assert_grpc_degraded(&degraded, Operation::Add);
    assert_eq!(degraded.reply.header("x-quota-degraded"), "add");
}

#[tokio::test]
async fn the_quota_degraded_extension_is_on_degraded_responses_only() {
    let quota = Quota::new(1, 1);
    assert_eq!(quota.send(add()).await.degraded(), None);
    assert_eq!(quota.send(list()).await.degraded(), None);
    assert_eq!(
        quota.send(request(Method::GET, "/health")).await.degraded(),
        None
    );
    assert_eq!(
        quota.send(add()).await.degraded(),
        Some(QuotaDegraded {
            operation: Operation::Add
        })
    );
    assert_eq!(
        quota.send(search()).await.degraded(),
        Some(QuotaDegraded {
            operation: Operation::Query
        })
    );
    // An inner 5xx passes through unmarked.
    let quota = Quota::new(1, 1);
    quota.backend.status(500);
    assert_eq!(quota.send(add()).await.degraded(), None);
}

// ---- projects and scopes ----

#[tokio::test]
async fn a_project_without_a_plan_is_unmetered() {
    let quota = Quota::new(1, 1);
    for _ in 0..5 {
        quota
            .assert_served(scoped_to("proj_other", Method::POST, "/v1/memories"))
            .await;
        quota
            .assert_served(scoped_to("proj_other", Method::GET, "/v1/memories"))
            .await;
    }
    let jan = month(2027, 1);
    let store = quota.layer.store();
    for operation in [Operation::Add, Operation::Query] {
        assert_eq!(
            store
                .used(&key("proj_other", operation, jan))
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.used(&key(PROJECT, operation, jan)).await.unwrap(), 0);
    }
    // The planned project is still metered.
    quota.assert_served(add()).await;
    quota.assert_degraded(add(), Operation::Add).await;
}

#[tokio::test]
async fn a_metered_request_without_a_scope_is_refused_401_missing_api_key() {
    let quota = Quota::new(10, 10);
    for (method, path) in [
        (Method::POST, "/v1/memories"),
        (Method::POST, "/v1/memories/search"),
        (Method::GET, "/v1/memories"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(String::new())
            .unwrap();
        let outcome = quota.send(request).await;
        assert_problem(&outcome.reply, 401, "missing_api_key");
        assert_eq!(outcome.degraded(), None);
    }
    assert_eq!(quota.backend.calls(), 0, "the inner service was called");
    assert_eq!(quota.used(Operation::Add).await, 0);
    assert_eq!(quota.used(Operation::Query).await, 0);
}

#[tokio::test]
async fn a_grpc_request_without_a_scope_is_refused_as_grpc() {
    let quota = Quota::new(10, 10);
    let request = grpc(Request::post("/v1/memories").body(String::new()).unwrap());
    let outcome = quota.send(request).await;
    assert_eq!(outcome.status(), 200);
    assert_eq!(outcome.reply.header("content-type"), "application/grpc");
    assert_eq!(outcome.reply.header("grpc-status"), "16"); // UNAUTHENTICATED
    assert_eq!(quota.backend.calls(), 0);
}

// ---- behind ApiKeyAuth and ProjectScope ----

#[tokio::test]
async fn behind_auth_and_scope_the_keys_project_is_metered() {
    let fixture = Fixture::new().await;
    let plans = QuotaPlans::new().with_plan(PROJECT, Plan::new(2, 10));
    let quota = QuotaDegradeLayer::new(plans).with_clock(fixture.clock.clone());
    let service = ServiceBuilder::new()
        .layer(fixture.auth_layer())
        .layer(ProjectScopeLayer::new())
        .layer(quota.clone())
        .service(recording_service(&fixture.recorder));
    let keyed_add = || {
        Request::post("/v1/memories")
            .header("x-api-key", fixture.secret())
            .header("x-project-id", PROJECT)
            .body(String::new())
            .unwrap()
    };

    for _ in 0..2 {
        let reply = send(service.clone(), keyed_add()).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.text(), "inner");
    }
    let reply = send(service.clone(), keyed_add()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.text(), r#"{"results":[]}"#);
    assert_eq!(fixture.recorder.calls(), 2);
    assert_eq!(
        fixture.recorder.scope(),
        Some(Scope::new(PROJECT, Environment::Development))
    );
    let used = quota
        .store()
        .used(&key(PROJECT, Operation::Add, Month::of(T0)))
        .await
        .unwrap();
    assert_eq!(used, 2);

    // Without a key, auth refuses before the quota is even looked at.
    let unkeyed = Request::post("/v1/memories").body(String::new()).unwrap();
    assert_problem(&send(service, unkeyed).await, 401, "missing_api_key");
    assert_eq!(fixture.recorder.calls(), 2);
}
