//! Webhook delivery end to end: real receivers (HTTP and HTTPS servers on loopback, answering
//! from a script per attempt), the real `HttpsTransport`, and the delivery worker behind
//! `Webhooks`. Covered: retries with one `webhook-id`, 410 disabling an endpoint, timeouts,
//! redirects not followed, `Retry-After` within `[delay, 2 × delay]`, dead letters with health and
//! replay, a graceful shutdown that loses nothing and a restart on the same queue, TLS with a
//! private root (and without it), the production target rules on URLs and on resolved
//! addresses, quota alerts and test events with subscriptions. Every request a receiver gets is
//! checked with the crate's own `Verifier`.
//!
//! Tests wait for arrivals on a channel the receiver signals, never for a fixed time; where only
//! the worker's bookkeeping is left (counters, the queue), they poll it under a deadline.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, SystemClock, Timestamp};
use memorysync_pipeline::health::{CheckStatus, HealthCheck};
use memorysync_pipeline::quota::{Month, Operation, QuotaAlert};
use memorysync_pipeline::webhook::{
    DeadLetter, Endpoint, HttpsTransport, MemoryWebhookQueue, RetryPolicy, TargetError, Verifier,
    WEBHOOK_ID, WEBHOOK_TIMESTAMP, WebhookSecret, WebhookSettings, WebhookStats, Webhooks,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The safety net around every wait: far longer than any case needs.
const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The receiver: a real HTTP(S) server that records and scripts its answers.
// ---------------------------------------------------------------------------------------------

/// How the receiver answers one request.
#[derive(Clone, Debug)]
enum Reply {
    /// At once, with this status and these headers.
    Status(u16, Vec<(&'static str, String)>),
    /// Never.
    Hang,
    /// 200 once the test hands out a permit ([`Receiver::release`]).
    Hold,
}

fn status(code: u16) -> Reply {
    Reply::Status(code, Vec::new())
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Arrival {
    at: Instant,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Arrival {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn id(&self) -> &str {
        self.header(WEBHOOK_ID)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct State {
    /// The answers for the next requests, in order, then the standing answer.
    script: Mutex<(VecDeque<Reply>, Reply)>,
    log: Mutex<Vec<Arrival>>,
    /// `(webhook-id, status)` of every answer given, in order.
    answered: Mutex<Vec<(String, u16)>>,
    connections: AtomicUsize,
    release: Semaphore,
    arrivals: mpsc::UnboundedSender<Arrival>,
}

struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    server: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    /// A plain HTTP receiver answering `first` in order, then `otherwise` to every request.
    async fn start(first: impl IntoIterator<Item = Reply>, otherwise: Reply) -> Self {
        Self::serve(None, first, otherwise).await
    }

    /// The same over TLS.
    async fn start_tls(
        acceptor: TlsAcceptor,
        first: impl IntoIterator<Item = Reply>,
        otherwise: Reply,
    ) -> Self {
        Self::serve(Some(acceptor), first, otherwise).await
    }

    async fn serve(
        tls: Option<TlsAcceptor>,
        first: impl IntoIterator<Item = Reply>,
        otherwise: Reply,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sender, arrivals) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            script: Mutex::new((first.into_iter().collect(), otherwise)),
            log: Mutex::new(Vec::new()),
            answered: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            release: Semaphore::new(0),
            arrivals: sender,
        });
        let server = tokio::spawn(accept(listener, tls, Arc::clone(&state)));
        Receiver {
            addr,
            state,
            arrivals,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request, awaited (never guessed at with a sleep).
    async fn next(&mut self) -> Arrival {
        tokio::time::timeout(PATIENCE, self.arrivals.recv())
            .await
            .expect("no delivery reached the receiver in time")
            .expect("the receiver stopped")
    }

    /// From now on, every request not covered by the script gets `reply`.
    fn then(&self, reply: Reply) {
        self.state.script.lock().unwrap().1 = reply;
    }

    /// Lets `n` held requests answer 200.
    fn release(&self, n: usize) {
        self.state.release.add_permits(n);
    }

    fn requests(&self) -> Vec<Arrival> {
        self.state.log.lock().unwrap().clone()
    }

    fn answered(&self) -> Vec<(String, u16)> {
        self.state.answered.lock().unwrap().clone()
    }

    /// The `webhook-id`s of the requests answered with a 2xx.
    fn successes(&self) -> Vec<String> {
        self.answered()
            .into_iter()
            .filter(|(_, code)| (200..300).contains(code))
            .map(|(id, _)| id)
            .collect()
    }

    /// TCP connections accepted, whether or not a request followed.
    fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

async fn accept(listener: TcpListener, tls: Option<TlsAcceptor>, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        state.connections.fetch_add(1, Ordering::SeqCst);
        let state = Arc::clone(&state);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(Arc::clone(&state), request));
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            }
        });
    }
}

async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let arrival = Arrival {
        at: Instant::now(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    };
    let reply = {
        let mut script = state.script.lock().unwrap();
        script.0.pop_front().unwrap_or_else(|| script.1.clone())
    };
    let id = arrival.id().to_owned();
    state.log.lock().unwrap().push(arrival.clone());
    let _ = state.arrivals.send(arrival);
    let (code, headers) = match reply {
        Reply::Status(code, headers) => (code, headers),
        Reply::Hang => std::future::pending().await,
        Reply::Hold => {
            state.release.acquire().await.unwrap().forget();
            (200, Vec::new())
        }
    };
    state.answered.lock().unwrap().push((id, code));
    let mut response = Response::builder().status(code);
    for (name, value) in headers {
        response = response.header(name, value);
    }
    Ok(response.body(Full::new(Bytes::new())).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// A jitter-free schedule of `delays_ms` (one attempt per entry) with `timeout_ms` per attempt.
fn fast(delays_ms: &[u64], timeout_ms: u64) -> RetryPolicy {
    RetryPolicy {
        delays: delays_ms
            .iter()
            .copied()
            .map(Duration::from_millis)
            .collect(),
        jitter: 0.0,
        request_timeout: Duration::from_millis(timeout_ms),
    }
}

fn endpoint(url: &str, secret: &WebhookSecret, events: &[&str]) -> Endpoint {
    Endpoint::new(url.parse::<Uri>().unwrap(), secret.clone(), events.to_vec())
}

fn development(endpoints: Vec<Endpoint>, policy: RetryPolicy) -> WebhookSettings {
    WebhookSettings::new(endpoints, Environment::Development).with_policy(policy)
}

fn start(settings: WebhookSettings) -> (Webhooks, MemoryWebhookQueue) {
    let queue = MemoryWebhookQueue::new();
    let hooks = Webhooks::start(
        queue.clone(),
        HttpsTransport::new(Environment::Development),
        settings,
    )
    .unwrap();
    (hooks, queue)
}

/// Checks a request's signature as a receiver holding `secret` would.
fn verify(secret: &WebhookSecret, arrival: &Arrival) {
    let checked = Verifier::new(secret.clone()).verify_headers(
        &arrival.headers,
        &arrival.body,
        SystemClock.now(),
    );
    assert_eq!(checked, Ok(()), "signature of {arrival:?}");
    assert_eq!(arrival.header("content-type"), "application/json");
}

/// Polls `check` until it holds, for the worker's bookkeeping (counters, the queue) that no
/// event announces.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn settled(hooks: &Webhooks, delivered: u64, dead_lettered: u64) {
    eventually(
        &format!("{delivered} delivered, {dead_lettered} dead-lettered, nothing pending"),
        async || {
            let stats = hooks.stats();
            stats.delivered == delivered
                && stats.dead_lettered == dead_lettered
                && hooks.pending().await.unwrap() == 0
        },
    )
    .await;
}

async fn only_dead_letter(hooks: &Webhooks) -> DeadLetter {
    let mut letters = hooks.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    letters.remove(0)
}

/// A self-signed certificate for `localhost` and a TLS acceptor serving it.
fn localhost_tls() -> (TlsAcceptor, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certificate.clone()], key)
    .unwrap();
    (TlsAcceptor::from(Arc::new(config)), certificate)
}

// ---------------------------------------------------------------------------------------------
// 1. Retries keep one webhook-id.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_the_event_once_under_one_id() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([status(500), status(503)], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20, 20], 2_000),
    ));

    let id = hooks.publish("memory.added", json!({ "memory": "mem_1" }));
    let attempts = [
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    for attempt in &attempts {
        verify(&secret, attempt);
        assert_eq!(attempt.id(), &*id);
        assert_eq!(attempt.path, "/hook");
        assert_eq!(
            attempt.body, attempts[0].body,
            "the body is the same on every attempt"
        );
    }
    assert_eq!(attempts[0].json()["data"], json!({ "memory": "mem_1" }));
    settled(&hooks, 1, 0).await;

    assert_eq!(
        hooks.stats(),
        WebhookStats {
            published: 1,
            attempts: 3,
            delivered: 1,
            failures: 2,
            retries: 2,
            dead_lettered: 0,
        }
    );
    let id = id.to_string();
    assert_eq!(
        receiver.answered(),
        vec![(id.clone(), 500), (id.clone(), 503), (id, 200)],
        "exactly one successful delivery"
    );
    assert!(hooks.dead_letters().await.unwrap().is_empty());
    assert_eq!(hooks.pending().await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// 2. 410 Gone disables the endpoint.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_and_later_events_are_dead_lettered_unsent() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], status(410)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20], 2_000),
    ));
    assert!(!hooks.is_disabled(&url));

    let first = hooks.publish("memory.added", json!({ "n": 1 }));
    let arrival = receiver.next().await;
    verify(&secret, &arrival);
    assert_eq!(arrival.id(), &*first);
    settled(&hooks, 0, 1).await;

    assert!(hooks.is_disabled(&url));
    let letter = only_dead_letter(&hooks).await;
    assert_eq!(letter.delivery.id, first);
    assert_eq!(&*letter.delivery.url, url);
    assert!(letter.reason.contains("410"), "{}", letter.reason);
    assert_eq!(hooks.stats().retries, 0, "a 410 is not retried");

    let second = hooks.publish("memory.added", json!({ "n": 2 }));
    settled(&hooks, 0, 2).await;
    let letters = hooks.dead_letters().await.unwrap();
    let later = letters
        .iter()
        .find(|l| l.delivery.id == second)
        .expect("the second event is a dead letter");
    assert!(later.reason.contains("410"), "{}", later.reason);
    assert_eq!(
        receiver.requests().len(),
        1,
        "nothing sent to a disabled endpoint"
    );
    assert!(receiver.arrivals.try_recv().is_err());
    assert_eq!(hooks.stats().attempts, 1);
}

// ---------------------------------------------------------------------------------------------
// 3. A receiver that never answers.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_without_an_answer_times_out_and_is_retried() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([Reply::Hang], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20], 100),
    ));

    let id = hooks.publish("memory.added", json!({}));
    let hung = receiver.next().await;
    let retried = receiver.next().await;
    verify(&secret, &hung);
    verify(&secret, &retried);
    assert_eq!(hung.id(), &*id);
    assert_eq!(retried.id(), &*id);
    assert!(
        retried.at.duration_since(hung.at) >= Duration::from_millis(95),
        "retried after {:?}, before the 100 ms timeout",
        retried.at.duration_since(hung.at)
    );
    settled(&hooks, 1, 0).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (2, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_reason_states_the_timeout() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], Reply::Hang).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0], 100),
    ));
    hooks.publish("memory.added", json!({}));
    verify(&secret, &receiver.next().await);
    settled(&hooks, 0, 1).await;
    let reason = only_dead_letter(&hooks).await.reason;
    assert!(!reason.contains(" 0 s"), "{reason}");
    assert!(reason.contains("100") || reason.contains("0.1"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// 4. Redirects.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let secret = WebhookSecret::generate().unwrap();
    let target = Receiver::start([], status(200)).await;
    let redirect = Reply::Status(302, vec![("location", target.url("/elsewhere"))]);
    let mut receiver = Receiver::start([redirect], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20], 2_000),
    ));

    let id = hooks.publish("memory.added", json!({}));
    let redirected = receiver.next().await;
    let retried = receiver.next().await;
    for arrival in [&redirected, &retried] {
        verify(&secret, arrival);
        assert_eq!(arrival.id(), &*id);
        assert_eq!(
            arrival.path, "/hook",
            "the retry goes to the endpoint, not the Location"
        );
    }
    settled(&hooks, 1, 0).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (2, 1, 1));
    assert_eq!(target.connections(), 0, "the Location was not followed");
    assert!(target.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// 5. Retry-After.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_below_the_delay_waits_the_delay() {
    let secret = WebhookSecret::generate().unwrap();
    let slow_down = Reply::Status(503, vec![("retry-after", "0".to_owned())]);
    let mut receiver = Receiver::start([slow_down], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 200], 2_000),
    ));

    let id = hooks.publish("memory.added", json!({}));
    let first = receiver.next().await;
    let second = receiver.next().await;
    verify(&secret, &first);
    verify(&secret, &second);
    assert_eq!((first.id(), second.id()), (&*id, &*id));
    let gap = second.at.duration_since(first.at);
    assert!(
        gap >= Duration::from_millis(190) && gap < Duration::from_secs(2),
        "second attempt {gap:?} after the first"
    );
    settled(&hooks, 1, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_above_twice_the_delay_is_capped() {
    let secret = WebhookSecret::generate().unwrap();
    let an_hour = Reply::Status(503, vec![("retry-after", "3600".to_owned())]);
    let mut receiver = Receiver::start([an_hour], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 100], 2_000),
    ));

    hooks.publish("memory.added", json!({}));
    let first = receiver.next().await;
    let second = receiver.next().await;
    let gap = second.at.duration_since(first.at);
    // Capped at 2 × 100 ms; the worker looks for due deliveries every 250 ms.
    assert!(
        gap >= Duration::from_millis(95) && gap < Duration::from_secs(2),
        "second attempt {gap:?} after the first"
    );
    settled(&hooks, 1, 0).await;
}

// ---------------------------------------------------------------------------------------------
// 6. Dead letters, health and replay.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_up_attempts_are_dead_lettered_reported_and_replayed() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], status(500)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20], 2_000),
    ));
    let health = hooks.health_check();
    assert_eq!(health.name(), "webhooks");
    assert_eq!(health.check().await, CheckStatus::Ok);

    let id = hooks.publish("memory.added", json!({ "n": 1 }));
    for _ in 0..3 {
        let attempt = receiver.next().await;
        verify(&secret, &attempt);
        assert_eq!(attempt.id(), &*id);
    }
    settled(&hooks, 0, 1).await;
    let letter = only_dead_letter(&hooks).await;
    assert_eq!(letter.delivery.id, id);
    assert_eq!(letter.delivery.attempts, 3);
    assert!(letter.reason.contains("500"), "{}", letter.reason);
    match health.check().await {
        CheckStatus::Degraded(text) => assert!(text.contains('1'), "{text}"),
        other => panic!("expected degraded, got {other:?}"),
    }

    assert!(!hooks.replay("msg_unknown", &url).await.unwrap());
    receiver.then(status(200));
    assert!(hooks.replay(&id, &letter.delivery.url).await.unwrap());
    let replayed = receiver.next().await;
    verify(&secret, &replayed);
    assert_eq!(replayed.id(), &*id, "a replay keeps the webhook-id");
    assert_eq!(replayed.body, letter.delivery.body);
    settled(&hooks, 1, 1).await;
    assert!(hooks.dead_letters().await.unwrap().is_empty());
    assert_eq!(health.check().await, CheckStatus::Ok);
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (4, 3, 2));
}

// ---------------------------------------------------------------------------------------------
// 7. Graceful shutdown and a restart on the same queue.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_mid_delivery_loses_nothing_and_a_restart_delivers_the_rest() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], Reply::Hold).await;
    let url = receiver.url("/hook");
    let queue = MemoryWebhookQueue::new();
    let settings = development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20], 5_000),
    )
    .with_concurrency(4);
    let first = Webhooks::start(
        queue.clone(),
        HttpsTransport::new(Environment::Development),
        settings.clone(),
    )
    .unwrap();

    let ids: Vec<String> = (0..20)
        .map(|n| first.publish("memory.added", json!({ "n": n })).to_string())
        .collect();
    for _ in 0..4 {
        verify(&secret, &receiver.next().await);
    }
    eventually("all 20 are queued", async || {
        first.pending().await.unwrap() == 20
    })
    .await;
    assert_eq!(first.stats().attempts, 4, "at most 4 in flight");

    // Two of the four in flight answer within the grace period; the other two never do.
    receiver.release(2);
    let began = Instant::now();
    first.shutdown(Duration::from_millis(100)).await;
    let took = began.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");

    let stats = first.stats();
    let pending = u64::try_from(first.pending().await.unwrap()).unwrap();
    assert_eq!(stats.published, 20);
    assert_eq!(stats.dead_lettered, 0);
    assert_eq!(
        pending + stats.delivered + stats.dead_lettered,
        20,
        "{stats:?}, {pending} pending"
    );
    assert_eq!(stats.delivered, 2, "{stats:?}");
    assert_eq!(receiver.successes().len(), 2, "every 200 given was counted");
    while receiver.arrivals.try_recv().is_ok() {}

    // A new worker on the same queue delivers the rest.
    receiver.then(status(200));
    let second = Webhooks::start(
        queue.clone(),
        HttpsTransport::new(Environment::Development),
        settings,
    )
    .unwrap();
    for _ in 0..pending {
        verify(&secret, &receiver.next().await);
    }
    settled(&second, pending, 0).await;
    assert_eq!(queue_pending(&queue).await, 0);

    let mut delivered: HashMap<String, usize> = HashMap::new();
    for id in receiver.successes() {
        *delivered.entry(id).or_default() += 1;
    }
    assert_eq!(
        delivered.keys().cloned().collect::<HashSet<_>>(),
        ids.iter().cloned().collect::<HashSet<_>>(),
        "every event was delivered"
    );
    assert!(
        delivered.values().all(|&n| n == 1),
        "each webhook-id succeeded exactly once: {delivered:?}"
    );
    assert_eq!(second.stats().failures, 0);
}

async fn queue_pending(queue: &MemoryWebhookQueue) -> usize {
    use memorysync_pipeline::webhook::WebhookQueue;
    queue.pending().await.unwrap()
}

#[tokio::test]
async fn events_published_just_before_shutdown_stay_queued() {
    let secret = WebhookSecret::generate().unwrap();
    let receiver = Receiver::start([], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, queue) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20], 2_000),
    ));
    for n in 0..5 {
        hooks.publish("memory.added", json!({ "n": n }));
    }
    hooks.shutdown(Duration::from_millis(100)).await;
    let stats = hooks.stats();
    assert_eq!(stats.published, 5);
    let pending = u64::try_from(queue_pending(&queue).await).unwrap();
    assert_eq!(
        pending + stats.delivered + stats.dead_lettered,
        5,
        "{stats:?}, {pending} pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dropped_mid_delivery_leaves_nothing_stranded() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], Reply::Hold).await;
    let url = receiver.url("/hook");
    let settings = development(vec![endpoint(&url, &secret, &[])], fast(&[0, 20], 5_000));
    let (hooks, queue) = start(settings.clone());
    let id = hooks.publish("memory.added", json!({}));
    assert_eq!(receiver.next().await.id(), &*id);
    drop(hooks);

    receiver.then(status(200));
    let again = Webhooks::start(
        queue.clone(),
        HttpsTransport::new(Environment::Development),
        settings,
    )
    .unwrap();
    let Ok(arrival) = tokio::time::timeout(Duration::from_secs(2), receiver.arrivals.recv()).await
    else {
        let stranded = queue_pending(&queue).await;
        panic!("the in-flight delivery was never sent again ({stranded} pending)");
    };
    let arrival = arrival.unwrap();
    assert_eq!(arrival.id(), &*id);
    settled(&again, 1, 0).await;
}

// ---------------------------------------------------------------------------------------------
// 8. HTTPS.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_root_delivers_a_verified_event() {
    let secret = WebhookSecret::generate().unwrap();
    let (acceptor, certificate) = localhost_tls();
    let mut receiver = Receiver::start_tls(acceptor, [], status(200)).await;
    let url = format!("https://localhost:{}/hook", receiver.addr.port());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).unwrap();
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::with_roots(Environment::Development, roots),
        development(vec![endpoint(&url, &secret, &[])], fast(&[0, 20], 5_000)),
    )
    .unwrap();

    let id = hooks.publish("memory.added", json!({ "secure": true }));
    let arrival = receiver.next().await;
    verify(&secret, &arrival);
    assert_eq!(arrival.id(), &*id);
    assert_eq!(arrival.path, "/hook");
    assert_eq!(arrival.json()["data"], json!({ "secure": true }));
    settled(&hooks, 1, 0).await;
    assert_eq!(hooks.stats().failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_an_untrusted_certificate_fails_and_is_dead_lettered() {
    let secret = WebhookSecret::generate().unwrap();
    let (acceptor, _) = localhost_tls();
    let receiver = Receiver::start_tls(acceptor, [], status(200)).await;
    let url = format!("https://localhost:{}/hook", receiver.addr.port());
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::with_roots(Environment::Development, rustls::RootCertStore::empty()),
        development(vec![endpoint(&url, &secret, &[])], fast(&[0, 20], 5_000)),
    )
    .unwrap();

    let id = hooks.publish("memory.added", json!({}));
    settled(&hooks, 0, 1).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (2, 2, 1));
    let letter = only_dead_letter(&hooks).await;
    assert_eq!(letter.delivery.id, id);
    assert!(letter.reason.contains("transport"), "{}", letter.reason);
    assert!(
        receiver.connections() >= 1,
        "the TLS handshake was attempted"
    );
    assert!(
        receiver.requests().is_empty(),
        "no request over an untrusted TLS session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_named_in_the_dead_letter() {
    let secret = WebhookSecret::generate().unwrap();
    let (acceptor, _) = localhost_tls();
    let receiver = Receiver::start_tls(acceptor, [], status(200)).await;
    let url = format!("https://localhost:{}/hook", receiver.addr.port());
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::with_roots(Environment::Development, rustls::RootCertStore::empty()),
        development(vec![endpoint(&url, &secret, &[])], fast(&[0], 5_000)),
    )
    .unwrap();
    hooks.publish("memory.added", json!({}));
    settled(&hooks, 0, 1).await;
    let reason = only_dead_letter(&hooks).await.reason.to_lowercase();
    assert!(reason.contains("certificate"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// 9. Production rules.
// ---------------------------------------------------------------------------------------------

fn start_in_production(url: &str) -> Result<Webhooks, TargetError> {
    let secret = WebhookSecret::generate().unwrap();
    Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::new(Environment::Production),
        WebhookSettings::new(vec![endpoint(url, &secret, &[])], Environment::Production),
    )
}

#[tokio::test]
async fn production_refuses_plain_http_and_internal_address_literals() {
    let error = start_in_production("http://hooks.example.com/x").unwrap_err();
    assert_eq!(error, TargetError::NotHttps);
    let text = error.to_string();
    assert!(
        text.contains("production") && text.contains("https://"),
        "{text}"
    );

    for (url, ip) in [
        ("https://127.0.0.1/x", "127.0.0.1"),
        ("https://[::1]/x", "::1"),
    ] {
        let error = start_in_production(url).unwrap_err();
        assert_eq!(error, TargetError::NotGlobal(ip.parse().unwrap()), "{url}");
        let text = error.to_string();
        assert!(
            text.contains(ip) && text.contains("globally routable"),
            "{text}"
        );
    }

    // A name is checked when it resolves, not here.
    assert!(start_in_production("https://hooks.example.com/x").is_ok());
    // Development takes plain http:// to loopback.
    let secret = WebhookSecret::generate().unwrap();
    assert!(
        Webhooks::start(
            MemoryWebhookQueue::new(),
            HttpsTransport::new(Environment::Development),
            development(
                vec![endpoint("http://127.0.0.1:9/x", &secret, &[])],
                fast(&[0], 100)
            ),
        )
        .is_ok()
    );
}

/// Starts a production worker (one attempt) delivering to `https://localhost:<port>/`, which
/// resolves to loopback, and waits for the outcome.
async fn deliver_in_production_to_localhost(receiver: &Receiver) -> Webhooks {
    let secret = WebhookSecret::generate().unwrap();
    let url = format!("https://localhost:{}/", receiver.addr.port());
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::new(Environment::Production),
        WebhookSettings::new(vec![endpoint(&url, &secret, &[])], Environment::Production)
            .with_policy(fast(&[0], 5_000)),
    )
    .expect("a host name passes the URL check; its addresses are checked on resolving");
    hooks.publish("memory.added", json!({}));
    settled(&hooks, 0, 1).await;
    hooks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_never_connects_to_a_name_resolving_to_loopback() {
    let receiver = Receiver::start([], status(200)).await;
    let hooks = deliver_in_production_to_localhost(&receiver).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.delivered), (1, 1, 0));
    assert_eq!(receiver.connections(), 0, "the resolver refused loopback");
    assert!(receiver.requests().is_empty());
    let letter = only_dead_letter(&hooks).await;
    assert!(letter.reason.contains("transport"), "{}", letter.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refused_address_is_named_in_the_dead_letter() {
    let receiver = Receiver::start([], status(200)).await;
    let hooks = deliver_in_production_to_localhost(&receiver).await;
    let reason = only_dead_letter(&hooks).await.reason;
    assert!(
        reason.contains("127.0.0.1")
            || reason.contains("::1")
            || reason.contains("globally routable"),
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Quota alerts, test events, subscriptions.
// ---------------------------------------------------------------------------------------------

fn alert(threshold: u8, used: u64) -> QuotaAlert {
    QuotaAlert {
        project: Arc::from("proj_demo"),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
        threshold,
        used,
        limit: 1000,
    }
}

fn assert_envelope(arrival: &Arrival, event_type: &str, data: &Value) {
    let body = arrival.json();
    assert_eq!(body["type"], event_type, "{body}");
    assert_eq!(&body["data"], data, "{body}");
    let timestamp = Timestamp::parse_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
    let now = SystemClock.now();
    assert!(
        (now.unix_millis() - timestamp.unix_millis()).abs() < 60_000,
        "timestamp {timestamp} is not now ({now})"
    );
    let sent_at: i64 = arrival.header(WEBHOOK_TIMESTAMP).parse().unwrap();
    assert!((sent_at - now.unix_millis() / 1000).abs() < 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_alerts_and_test_events_reach_their_subscribers() {
    let everything_secret = WebhookSecret::generate().unwrap();
    let exhausted_secret = WebhookSecret::generate().unwrap();
    let mut everything = Receiver::start([], status(200)).await;
    let mut exhausted_only = Receiver::start([], status(200)).await;
    let (hooks, _) = start(development(
        vec![
            endpoint(&everything.url("/all"), &everything_secret, &[]),
            endpoint(
                &exhausted_only.url("/exhausted"),
                &exhausted_secret,
                &["quota.exhausted"],
            ),
        ],
        fast(&[0, 20], 2_000),
    ));

    let sink = hooks.quota_alert_sink();
    sink(&alert(80, 800));
    sink(&alert(100, 1000));
    let test_id = hooks.send_test();

    let mut by_type: HashMap<String, Arrival> = HashMap::new();
    for _ in 0..3 {
        let arrival = everything.next().await;
        verify(&everything_secret, &arrival);
        let event_type = arrival.json()["type"].as_str().unwrap().to_owned();
        assert!(by_type.insert(event_type, arrival).is_none());
    }
    let data = |threshold: u8, used: u64| {
        json!({
            "project": "proj_demo",
            "operation": "add",
            "month": "2027-01",
            "threshold": threshold,
            "used": used,
            "limit": 1000,
        })
    };
    assert_envelope(
        &by_type["quota.threshold"],
        "quota.threshold",
        &data(80, 800),
    );
    assert_envelope(
        &by_type["quota.exhausted"],
        "quota.exhausted",
        &data(100, 1000),
    );
    let test_event = &by_type["webhook.test"];
    assert_eq!(test_event.id(), &*test_id);
    assert!(test_event.json()["data"]["message"].is_string());

    let arrival = exhausted_only.next().await;
    verify(&exhausted_secret, &arrival);
    assert_envelope(&arrival, "quota.exhausted", &data(100, 1000));
    assert_eq!(arrival.path, "/exhausted");
    assert_eq!(
        arrival.id(),
        by_type["quota.exhausted"].id(),
        "one message id per event, across endpoints"
    );
    // Each endpoint signs with its own secret.
    assert!(
        Verifier::new(everything_secret.clone())
            .verify_headers(&arrival.headers, &arrival.body, SystemClock.now())
            .is_err()
    );

    settled(&hooks, 4, 0).await;
    assert_eq!(
        hooks.stats().published,
        4,
        "3 + 1: no threshold or test event for /exhausted"
    );
    assert_eq!(exhausted_only.requests().len(), 1);
    assert!(exhausted_only.arrivals.try_recv().is_err());
}
