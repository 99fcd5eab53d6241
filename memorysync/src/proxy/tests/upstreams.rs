//! Real upstreams this crate did not write: a plain hyper server with a handler given by the
//! test, and Python's `http.server`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use http::{HeaderMap, Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
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

/// Python's `http.server` on loopback, answering every request with what it saw as JSON:
/// method, path, headers (names lowercased) and the body's length and SHA-256. Killed on drop.
pub(super) struct PythonUpstream {
    pub(super) addr: SocketAddr,
    _child: Child,
}

const PYTHON_ECHO: &str = r#"
import hashlib, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        out = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl PythonUpstream {
    /// Starts it; `None` (with a printed line) when `python3` is not installed, unless
    /// `MEMORYSYNC_REQUIRE_PYTHON` is set, which fails the test instead.
    pub(super) async fn start() -> Option<PythonUpstream> {
        let spawned = Command::new("python3")
            .args(["-c", PYTHON_ECHO])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) if std::env::var_os("MEMORYSYNC_REQUIRE_PYTHON").is_none() => {
                println!("skipped: python3 could not be started ({error})");
                return None;
            }
            Err(error) => panic!("MEMORYSYNC_REQUIRE_PYTHON is set and python3 failed: {error}"),
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        let read = stdout.read_line(&mut line);
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("python prints its port within 10 s")
            .expect("python's stdout is readable");
        let port: u16 = line.trim().parse().expect("python printed a port");
        Some(PythonUpstream {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _child: child,
        })
    }

    /// `http://127.0.0.1:port`.
    pub(super) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A port nothing listens on: bound, then let go.
pub(super) async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    listener.local_addr().expect("bound")
}
