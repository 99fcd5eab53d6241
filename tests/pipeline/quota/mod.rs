//! `QuotaDegrade` over HTTP: adds and queries counted apart and never past the plan, the silent
//! degraded answer (JSON and gRPC), calendar months in UTC, refunds of failed calls, races for
//! the last unit, usage alerts once per threshold and month, unmetered routes, a custom
//! classifier, the degraded answer's options, projects without a plan, a request without a
//! scope, cancelled requests, and the stage behind `ApiKeyAuth` and `ProjectScope`. Time moves only through a
//! `ManualClock`.

mod alerts;
mod cancellation;
mod degraded;
mod exhaustion;
mod months;
mod races;
mod refunds;
mod route_classifier;
mod routes;
mod routes_config;
mod scopes;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::{Fixture, PROJECT, Reply, T0, assert_problem, recording_service, send};
use bytes::Bytes;
use http::{Extensions, HeaderName, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, ManualClock, Timestamp};
use memorysync_pipeline::quota::{
    AlertThresholds, Classify, DefaultClassifier, EMPTY_RESULTS, MemoryQuotaStore, Month,
    Operation, Plan, QuotaAlert, QuotaDegradeLayer, QuotaDegraded, QuotaKey, QuotaPlans,
    QuotaStore, Reservation,
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

/// A degraded gRPC answer: status OK with one empty message, and the extension.
#[track_caller]
fn assert_grpc_degraded(outcome: &Outcome, operation: Operation) {
    assert_eq!(outcome.status(), 200, "{outcome:?}");
    assert_eq!(outcome.reply.header("content-type"), "application/grpc");
    assert_eq!(outcome.reply.body, &[0u8, 0, 0, 0, 0][..]);
    let trailers = outcome.reply.trailers.as_ref().expect("no trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(outcome.degraded(), Some(QuotaDegraded { operation }));
}
