//! The test's client: hyper's, one connection per request, or raw bytes on a socket when the
//! request must be exactly as written.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy::body::BoxError;

/// The body type the test client sends.
pub(super) type ClientBody = UnsyncBoxBody<Bytes, BoxError>;

/// A whole answer.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

impl Answer {
    /// The body as JSON; fails the test if it is not.
    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The problem's `code`.
    pub(super) fn code(&self) -> String {
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "{self:?}"
        );
        self.json()["code"].as_str().expect("a code").to_owned()
    }
}

/// A request on a new connection to `addr`, for its hyper response (head first, body streaming).
pub(super) async fn start(
    addr: SocketAddr,
    request: Request<ClientBody>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error> {
    let stream = TcpStream::connect(addr).await.expect("the proxy accepts");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1.1 handshake");
    tokio::spawn(connection);
    sender.send_request(request).await
}

/// A request with these header fields (a name given twice is sent twice) and body; the whole
/// answer, within 20 s.
pub(super) async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: impl Into<Bytes>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    let map = request.headers_mut().expect("a valid request");
    map.insert("host", HeaderValue::from_static("proxy.test"));
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid name");
        map.append(name, HeaderValue::from_str(value).expect("a valid value"));
    }
    let body = Full::new(body.into())
        .map_err(|never| match never {})
        .boxed_unsync();
    let request = request.body(body).expect("a valid request");
    let call = async {
        let response = start(addr, request).await.expect("an answer");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("a whole body").to_bytes();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the proxy answers within 20 s")
}

/// Writes `head` then `body` on a new connection while reading; the whole answer as text,
/// read until the proxy closes (send `Connection: close` or a request it refuses).
pub(super) async fn send_raw(addr: SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("the proxy accepts");
    let (mut reader, mut writer) = stream.split();
    let send = async {
        // The proxy may close before taking it all: the answer is what matters.
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(body).await;
    };
    let read = async {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    let ((), answer) =
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(send, read) })
            .await
            .expect("the proxy answers and closes within 20 s");
    answer
}
