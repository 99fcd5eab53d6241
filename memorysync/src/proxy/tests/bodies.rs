//! Bodies stream both ways, within `[server] max_body_bytes`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Channel};

use super::client::{self, send_raw};
use super::harness::{PROJECT, Proxied, Setup};
use super::upstreams::HyperUpstream;
use crate::proxy::body::BoxError;
use memorysync_pipeline::quota::Operation;
use tokio::sync::Notify;

/// 10 MB, in 64 KiB chunks.
const TOTAL: usize = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The test's bytes: not one repeated byte, so that a reordered or dropped chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / CHUNK) % 251) as u8)
        .collect()
}

/// An upstream that answers at once with the request body as its response body: bytes come
/// back as they arrive.
async fn echo_upstream() -> HyperUpstream {
    HyperUpstream::start(
        |request: Request<hyper::body::Incoming>| async move {
            Response::new(Body::new(request.into_body()))
        },
        None,
    )
    .await
}

/// The client sends the first megabyte, then waits for the response head and the first half
/// megabyte echoed back before it sends the rest. A proxy that held either body whole would
/// never answer before the whole request was sent: the waits would time out.
#[tokio::test]
async fn ten_megabytes_stream_both_ways_without_being_held_whole() {
    let upstream = echo_upstream().await;
    let setup = Setup {
        max_body_bytes: 16 * 1024 * 1024,
        ..Setup::default()
    };
    let proxied = Proxied::start(&upstream.url(""), setup).await;
    let data = Bytes::from(pattern(TOTAL));
    let (mut sender, body) = Channel::<Bytes, BoxError>::new(4);
    let mut request = Request::post("/v2/notes/big").header("host", "proxy.test");
    for (name, value) in proxied.credentials() {
        request = request.header(name, value);
    }
    let request = request.body(body.boxed_unsync()).expect("a valid request");
    let addr = proxied.addr;
    let call = tokio::spawn(async move { client::start(addr, request).await });

    let wait = Duration::from_secs(10);
    let first = 1024 * 1024;
    for chunk in data[..first].chunks(CHUNK) {
        sender
            .send_data(Bytes::copy_from_slice(chunk))
            .await
            .expect("the proxy reads");
    }
    let response = tokio::time::timeout(wait, call)
        .await
        .expect("the response head comes before the request body is all sent")
        .expect("the call task")
        .expect("an answer");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = Vec::with_capacity(TOTAL);
    while received.len() < first / 2 {
        let frame = tokio::time::timeout(wait, body.frame())
            .await
            .expect("echoed bytes come back before the request body is all sent")
            .expect("more body")
            .expect("a frame");
        if let Ok(bytes) = frame.into_data() {
            received.extend_from_slice(&bytes);
        }
    }
    let rest = data.slice(first..);
    let send_rest = tokio::spawn(async move {
        for start in (0..rest.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(rest.len());
            sender
                .send_data(rest.slice(start..end))
                .await
                .expect("the proxy reads");
        }
    });
    let read_rest = async {
        while let Some(frame) = body.frame().await {
            if let Ok(bytes) = frame.expect("a whole body").into_data() {
                received.extend_from_slice(&bytes);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read_rest)
        .await
        .expect("the rest streams within 60 s");
    send_rest.await.expect("the sender task");
    assert_eq!(received.len(), TOTAL);
    assert!(
        received == data,
        "the echoed bytes differ from the sent ones"
    );
    assert_eq!(proxied.used(Operation::Add).await, 1);
}

/// 30 MB declared over a 1 KiB limit: refused before the upstream is contacted.
#[tokio::test]
async fn a_content_length_over_the_limit_is_413_and_the_upstream_never_contacted() {
    let upstream = echo_upstream().await;
    let setup = Setup {
        max_body_bytes: 1024,
        ..Setup::default()
    };
    let proxied = Proxied::start(&upstream.url(""), setup).await;
    let key = proxied.key.expose_secret().to_owned();
    let big = vec![b'a'; 30 * 1024 * 1024];
    let head = format!(
        "POST /v2/notes/a HTTP/1.1\r\nHost: proxy.test\r\nAuthorization: Bearer {key}\r\n\
         X-Project-ID: {PROJECT}\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    let answer = send_raw(proxied.addr, &head, &big).await;
    assert_payload_too_large(&answer);
    // Exactly the limit is fine.
    let headers = proxied.credentials();
    let fits = client::send(
        proxied.addr,
        "POST",
        "/v2/notes/a",
        &headers,
        vec![b'b'; 1024],
    )
    .await;
    assert_eq!((fits.status, fits.body.len()), (200, 1024));
    assert_eq!(
        upstream.seen().len(),
        1,
        "only the request that fits reached the upstream"
    );
    assert_eq!(proxied.audited_statuses().await, [413, 200]);
    assert_eq!(
        proxied.used(Operation::Add).await,
        1,
        "the refused request gave its unit back"
    );
}

/// An upstream that reads the whole body before it answers, counting the bodies it got whole.
async fn reading_upstream(whole: Arc<AtomicUsize>) -> HyperUpstream {
    HyperUpstream::start(
        move |request: Request<hyper::body::Incoming>| {
            let whole = Arc::clone(&whole);
            async move {
                match request.into_body().collect().await {
                    Ok(body) => {
                        whole.fetch_add(1, Ordering::SeqCst);
                        Response::new(Body::from(body.to_bytes()))
                    }
                    Err(_) => Response::new(Body::from("cut")),
                }
            }
        },
        None,
    )
    .await
}

/// Chunked, so no length is declared: the proxy streams it upstream and aborts once it passes
/// the limit. The upstream never gets a whole body, the client gets 413.
#[tokio::test]
async fn a_chunked_body_over_the_limit_aborts_the_upstream_request_and_is_413() {
    let whole = Arc::new(AtomicUsize::new(0));
    let upstream = reading_upstream(Arc::clone(&whole)).await;
    let setup = Setup {
        max_body_bytes: 1024,
        ..Setup::default()
    };
    let proxied = Proxied::start(&upstream.url(""), setup).await;
    let key = proxied.key.expose_secret().to_owned();
    let head = format!(
        "POST /v2/notes/a HTTP/1.1\r\nHost: proxy.test\r\nAuthorization: Bearer {key}\r\n\
         X-Project-ID: {PROJECT}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut chunks = Vec::new();
    for _ in 0..8 {
        chunks.extend_from_slice(b"200\r\n");
        chunks.extend_from_slice(&[b'c'; 0x200]);
        chunks.extend_from_slice(b"\r\n");
    }
    chunks.extend_from_slice(b"0\r\n\r\n");
    let answer = send_raw(proxied.addr, &head, &chunks).await;
    assert_payload_too_large(&answer);
    assert_eq!(
        whole.load(Ordering::SeqCst),
        0,
        "the upstream got a whole body"
    );
    assert_eq!(proxied.audited_statuses().await, [413]);
    assert_eq!(proxied.used(Operation::Add).await, 0);

    // Chunked within the limit goes through whole.
    let small = b"5\r\nhello\r\n0\r\n\r\n";
    let head = head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
    let answer = send_raw(proxied.addr, &head, small).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with("hello") || answer.contains("\r\nhello\r\n"),
        "{answer}"
    );
    assert_eq!(whole.load(Ordering::SeqCst), 1);
}

fn assert_payload_too_large(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
}

/// The client gets the head and the first bytes, then an error ending its body: a cut answer,
/// never one that looks whole, and the proxy goes on serving. The upstream sends its head and
/// first bytes, and fails once the client has read them.
#[tokio::test]
async fn an_upstream_body_failing_midway_ends_the_client_s_body_with_an_error() {
    let fail = Arc::new(Notify::new());
    let upstream_fail = Arc::clone(&fail);
    let upstream = HyperUpstream::start(
        move |request: Request<hyper::body::Incoming>| {
            let fail = Arc::clone(&upstream_fail);
            async move {
                if !request.uri().path().ends_with("/fails") {
                    return Response::new(Body::from("fine"));
                }
                let (mut sender, body) = Channel::<Bytes, std::io::Error>::new(1);
                tokio::spawn(async move {
                    let _ = sender.send_data(Bytes::from_static(b"partial")).await;
                    fail.notified().await;
                    sender.abort(std::io::Error::other("disk gone"));
                });
                Response::new(Body::new(body))
            }
        },
        None,
    )
    .await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let mut request = Request::get("/v2/notes/fails").header("host", "proxy.test");
    for (name, value) in proxied.credentials() {
        request = request.header(name, value);
    }
    let empty = http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    let request = request.body(empty).expect("a valid request");
    let response = client::start(proxied.addr, request)
        .await
        .expect("a response head");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let wait = Duration::from_secs(10);
    let first = tokio::time::timeout(wait, body.frame())
        .await
        .expect("the first bytes");
    let first = first
        .expect("a frame")
        .expect("data")
        .into_data()
        .expect("data");
    assert_eq!(&first[..], b"partial");
    fail.notify_one();
    let rest = tokio::time::timeout(wait, body.collect())
        .await
        .expect("the body ends");
    assert!(rest.is_err(), "a cut body read as whole: {rest:?}");

    let headers = proxied.credentials();
    let next = client::send(proxied.addr, "GET", "/v2/notes/next", &headers, "").await;
    assert_eq!((next.status, &next.body[..]), (200, &b"fine"[..]));
    assert_eq!(proxied.audited_statuses().await, [200, 200]);
}
