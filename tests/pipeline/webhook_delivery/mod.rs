//! Webhook delivery end to end: real receivers (HTTP and HTTPS servers on loopback, answering
//! from a script per attempt), the real `HttpsTransport`, and the delivery worker behind
//! `Webhooks`. Covered: retries with one `webhook-id`, 410 disabling an endpoint, timeouts,
//! redirects not followed, `Retry-After` within `[delay, 2 × delay]`, dead letters with health and
//! replay, a graceful shutdown that loses nothing and a restart on the same queue, TLS with a
//! private root (and without it), the production target rules on URLs and on resolved
//! addresses, quota alerts and test events with subscriptions, and a queue that refuses events
//! or a full channel (nothing dropped, the back-off measured, what a shutdown hands back). Every
//! request a receiver gets is checked with the crate's own `Verifier`.
//!
//! Tests wait for arrivals on a channel the receiver signals, never for a fixed time; where only
//! the worker's bookkeeping is left (counters, the queue), they poll it under a deadline.

mod answers;
mod backlog;
mod events;
mod lifecycle;
mod targets;

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
