//! Real upstreams this crate did not write: a plain hyper server with a handler given by the
//! test, and Python's `http.server` (`tests/common/python_upstream.rs`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{HeaderMap, Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What the upstream saw of one request.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    pub(super) method: Method,
    pub(super) uri: http::Uri,
    pub(super) headers: HeaderMap,
}

impl Seen {
    /// Every value of `name`, as text.
    pub(super) fn all(&self, name: &str) -> Vec<String> {
        let values = self.headers.get_all(name).iter();
        values
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// The one value of `name`; fails the test if there are several.
    pub(super) fn one(&self, name: &str) -> Option<String> {
        let mut all = self.all(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.pop()
    }
}

/// A hyper HTTP/1.1 server on loopback that records what it is sent.
#[derive(Clone)]
pub(super) struct HyperUpstream {
    pub(super) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl HyperUpstream {
    /// Serves `handler` on a new loopback port, over TLS when `tls` is given.
    pub(super) async fn start<H, F>(handler: H, tls: Option<TlsAcceptor>) -> HyperUpstream
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let upstream = HyperUpstream {
            addr: listener.local_addr().expect("bound"),
            connections: Arc::default(),
            seen: Arc::default(),
        };
        let shared = upstream.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let (seen, handler, tls) = (Arc::clone(&shared.seen), handler.clone(), tls.clone());
                let service = service_fn(move |request: Request<Incoming>| {
                    seen.lock().expect("not poisoned").push(Seen {
                        method: request.method().clone(),
                        uri: request.uri().clone(),
                        headers: request.headers().clone(),
                    });
                    let answer = handler(request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                tokio::spawn(async move {
                    let http = hyper::server::conn::http1::Builder::new();
                    // A connection the proxy aborts ends with an error; that is the test's point.
                    let _ = match tls {
                        None => http.serve_connection(TokioIo::new(stream), service).await,
                        Some(tls) => match tls.accept(stream).await {
                            Ok(stream) => {
                                http.serve_connection(TokioIo::new(stream), service).await
                            }
                            Err(_) => return,
                        },
                    };
                });
            }
        });
        upstream
    }

    /// `http://127.0.0.1:port` (plus `path`).
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// TCP connections accepted so far.
    pub(super) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The requests seen so far.
    pub(super) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }

    /// The last request seen; fails the test if there is none.
    pub(super) fn last(&self) -> Seen {
        self.seen().pop().expect("the upstream was called")
    }
}

/// An upstream answering 200 `ok`, with hop-by-hop fields of its own that must not reach the
/// client.
pub(super) async fn ok_upstream() -> HyperUpstream {
    HyperUpstream::start(
        |_| async {
            Response::builder()
                .header("connection", "x-upstream-hop")
                .header("x-upstream-hop", "1")
                .header("keep-alive", "timeout=5")
                .header("x-upstream-kept", "yes")
                .body(Body::from("ok"))
                .expect("a valid response")
        },
        None,
    )
    .await
}

/// A port nothing listens on: bound, then let go.
pub(super) async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    listener.local_addr().expect("bound")
}
