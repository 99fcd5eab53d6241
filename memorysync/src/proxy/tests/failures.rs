//! An upstream that is down or slow, what the quota makes of it, and the routes the config
//! meters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::Response;
use memorysync_pipeline::quota::Operation;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::client::send;
use super::harness::{Proxied, Setup};
use super::upstreams::{HyperUpstream, dead_port, ok_upstream};

#[tokio::test]
async fn a_dead_upstream_is_502_upstream_unavailable_and_the_unit_goes_back() {
    let dead = dead_port().await;
    let proxied = Proxied::start(&format!("http://{dead}"), Setup::default()).await;
    let headers = proxied.credentials();
    for _ in 0..2 {
        let answer = send(proxied.addr, "POST", "/v2/notes/a", &headers, "{}").await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (502, "upstream_unavailable")
        );
        assert!(
            !answer.json()["detail"]
                .as_str()
                .expect("a detail")
                .contains(&dead.to_string())
        );
    }
    assert_eq!(proxied.used(Operation::Add).await, 0);
    let events = proxied.events().await;
    let outcomes: Vec<(u64, &str)> = events
        .iter()
        .map(|e| {
            (
                e["status"].as_u64().expect("a status"),
                e["outcome"].as_str().expect("an outcome"),
            )
        })
        .collect();
    assert_eq!(outcomes, [(502, "error"), (502, "error")]);
}

/// The upstream takes the request and never answers: after `request_timeout_ms`, 504, and the
/// unit is kept, since the upstream may have stored.
#[tokio::test]
async fn a_slow_upstream_is_504_upstream_timeout_and_the_unit_is_kept() {
    let upstream = HyperUpstream::start(
        |_| async {
            std::future::pending::<()>().await;
            Response::new(Body::empty())
        },
        None,
    )
    .await;
    let setup = Setup {
        request_timeout_ms: 300,
        ..Setup::default()
    };
    let proxied = Proxied::start(&upstream.url(""), setup).await;
    let headers = proxied.credentials();
    let started = std::time::Instant::now();
    let answer = send(proxied.addr, "POST", "/v2/notes/a", &headers, "{}").await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (504, "upstream_timeout")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(upstream.seen().len(), 1, "the upstream got the request");
    assert_eq!(proxied.used(Operation::Add).await, 1);
    assert_eq!(proxied.audited_statuses().await, [504]);
}

/// The upstream reads the request, then closes the connection without a word: it may have
/// acted on it, so 502 keeps the unit.
#[tokio::test]
async fn an_upstream_closing_without_answering_is_502_and_keeps_the_unit() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    let heads = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&heads);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut read = Vec::new();
            let mut buffer = [0u8; 4096];
            while !read.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read.extend_from_slice(&buffer[..n]),
                }
            }
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let proxied = Proxied::start(&format!("http://{addr}"), Setup::default()).await;
    let answer = send(
        proxied.addr,
        "POST",
        "/v2/notes/a",
        &proxied.credentials(),
        "",
    )
    .await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (502, "upstream_unavailable")
    );
    assert_eq!(
        heads.load(Ordering::SeqCst),
        1,
        "the upstream read the request once"
    );
    assert_eq!(proxied.used(Operation::Add).await, 1);
    assert_eq!(proxied.audited_statuses().await, [502]);
}

/// `[[quota.routes]]` meters `POST /v2/notes/*`, a path the memory API does not have: two adds
/// a month are served, the third is degraded without reaching the upstream.
#[tokio::test]
async fn the_config_s_quota_routes_meter_the_upstream_s_paths() {
    let upstream = ok_upstream().await;
    let setup = Setup {
        adds: 2,
        ..Setup::default()
    };
    let proxied = Proxied::start(&upstream.url(""), setup).await;
    let headers = proxied.credentials();
    for path in ["/v2/notes/a", "/v2/notes/b"] {
        let answer = send(proxied.addr, "POST", path, &headers, "{}").await;
        assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
    }
    let degraded = send(proxied.addr, "POST", "/v2/notes/c", &headers, "{}").await;
    assert_eq!(
        (degraded.status, &degraded.body[..]),
        (200, &br#"{"results":[]}"#[..])
    );
    let unmetered = send(proxied.addr, "POST", "/v2/other", &headers, "{}").await;
    assert_eq!(unmetered.status, 200);
    let query = send(proxied.addr, "GET", "/v2/notes/a", &headers, "").await;
    assert_eq!(query.status, 200);
    let paths: Vec<String> = upstream
        .seen()
        .iter()
        .map(|s| s.uri.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        ["/v2/notes/a", "/v2/notes/b", "/v2/other", "/v2/notes/a"]
    );
    assert_eq!(proxied.used(Operation::Add).await, 2);
    assert_eq!(proxied.used(Operation::Query).await, 1);
    let events = proxied.events().await;
    let outcomes: Vec<&str> = events
        .iter()
        .map(|e| e["outcome"].as_str().expect("an outcome"))
        .collect();
    assert_eq!(
        outcomes,
        ["allowed", "allowed", "degraded", "allowed", "allowed"]
    );
}

/// A 4xx or 5xx from the upstream itself is passed back as it is, and gives the unit back.
#[tokio::test]
async fn the_upstream_s_own_errors_pass_through_and_give_the_unit_back() {
    let upstream = HyperUpstream::start(
        |request| async move {
            let status = if request.uri().path().ends_with("/missing") {
                404
            } else {
                503
            };
            let mut response = Response::new(Body::from("upstream says no"));
            *response.status_mut() = http::StatusCode::from_u16(status).expect("a status");
            response
        },
        None,
    )
    .await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let headers = proxied.credentials();
    for (path, status) in [("/v2/notes/missing", 404), ("/v2/notes/x", 503)] {
        let answer = send(proxied.addr, "POST", path, &headers, "{}").await;
        assert_eq!(
            (answer.status, &answer.body[..]),
            (status, &b"upstream says no"[..])
        );
    }
    assert_eq!(proxied.used(Operation::Add).await, 0);
    assert_eq!(proxied.audited_statuses().await, [404, 503]);
}

#[tokio::test]
async fn health_reports_the_upstream_check() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let answer = send(proxied.addr, "GET", "/health", &[], "").await;
    assert_eq!(
        (answer.status, answer.json()["status"].as_str()),
        (200, Some("ok"))
    );

    let dead = dead_port().await;
    let proxied = Proxied::start(&format!("http://{dead}"), Setup::default()).await;
    let answer = send(proxied.addr, "GET", "/health", &[], "").await;
    let report = answer.json();
    assert_eq!(report["status"], "degraded", "{report}");
    let upstream_check = report["checks"]["upstream"].to_string();
    assert!(
        !upstream_check.contains(&dead.port().to_string()),
        "{upstream_check}"
    );
}
