//! A webhook receiver for the endpoint tests (a real HTTP server on loopback that records each
//! request and answers the status it is told), the checks a receiver makes, and a bounded poll.
//! The suites every backend passes are in `suites.rs`.
#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::webhook::{Verifier, WEBHOOK_ID, WEBHOOK_SIGNATURE, WebhookSecret};
use tokio::sync::mpsc;

/// The safety net around every wait for a real event.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub(crate) struct Arrival {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Arrival {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub(crate) fn id(&self) -> &str {
        self.header(WEBHOOK_ID)
    }

    /// How many `v1,` signatures it carries.
    pub(crate) fn signatures(&self) -> usize {
        self.header(WEBHOOK_SIGNATURE).split(' ').count()
    }

    /// Whether a receiver holding `secret` accepts it at `now`.
    pub(crate) fn verifies(&self, secret: &WebhookSecret, now: Timestamp) -> bool {
        Verifier::new(secret.clone())
            .verify_headers(&self.headers, &self.body, now)
            .is_ok()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver on loopback answering `status()` (200 until told otherwise).
pub(crate) struct Hook {
    addr: std::net::SocketAddr,
    status: Arc<AtomicU16>,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Hook {
    pub(crate) async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let status = Arc::new(AtomicU16::new(200));
        let (sender, arrivals) = mpsc::unbounded_channel();
        let answer = Arc::clone(&status);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (sender, answer) = (sender.clone(), Arc::clone(&answer));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (sender, answer) = (sender.clone(), Arc::clone(&answer));
                        async move {
                            // Read before the arrival is announced: a test that changes the
                            // answer once it has seen a request changes the next one's.
                            let status = answer.load(Ordering::SeqCst);
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes());
                            let _ = sender.send(Arrival {
                                path: parts.uri.path().to_owned(),
                                headers: parts.headers,
                                body: body.unwrap_or_default(),
                            });
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Hook {
            addr,
            status,
            arrivals,
            server,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// From now on, every request gets `code`.
    pub(crate) fn answer(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    /// The next request, awaited.
    pub(crate) async fn next(&mut self) -> Arrival {
        tokio::time::timeout(PATIENCE, self.arrivals.recv())
            .await
            .expect("no delivery reached the receiver in time")
            .expect("the receiver stopped")
    }

    /// Requests received and not yet taken with `next`.
    pub(crate) fn waiting(&mut self) -> usize {
        let mut n = 0;
        while self.arrivals.try_recv().is_ok() {
            n += 1;
        }
        n
    }
}

/// Polls `check` until it holds: for state that no event announces (another instance's poll, a
/// worker's bookkeeping). Bounded, never a fixed sleep.
pub(crate) async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
