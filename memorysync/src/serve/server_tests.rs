//! The serving limits of `[server]` on a real listener: slow and idle clients are cut, bodies
//! over the limit are refused with 413, and shutdown ends within its grace. These wait on real
//! sockets, with timeouts of a few hundred milliseconds and every wait bounded; the same over
//! TLS, where a silent client must not hold a slot through its handshake either.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client::Running;
use super::testing::Served;

/// The binary's server with `server` as its `[server]` table (TLS when it holds a
/// `[server.tls]` table after its fields), and a development key of `proj_demo`.
async fn serve(server: &str, audit_dir: Option<&Path>) -> (Served, ApiKey) {
    let key = ApiKey::generate(Environment::Development).unwrap();
    let audit = audit_dir.map_or(String::new(), |dir| {
        format!("[audit]\ndir = \"{}\"\n", dir.display())
    });
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_demo\"\nadds_per_month = 1\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n\
         {audit}[server]\n{server}",
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    let app = super::app::build_demo(&config, "test", clock, |_| {})
        .await
        .unwrap();
    (super::testing::serve(app, config, None).await, key)
}

/// Reads until the server closes the connection (or resets it); what it sent before.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
}

async fn health(addr: SocketAddr) -> u16 {
    Running::at(addr).send("GET", "/health", &[], "").await.0
}

#[tokio::test]
async fn a_slow_client_sending_one_header_byte_at_a_time_is_cut_while_health_answers() {
    let (served, _) = serve("header_read_timeout_ms = 400\n", None).await;
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = slow.split();
    let trickle = async {
        for byte in b"GET /health HTTP/1.1\r\nHost: loopback\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let closed = async {
        let mut buf = [0u8; 256];
        // The server answers a header timeout by closing, perhaps after a 408.
        while let Ok(n @ 1..) = reader.read(&mut buf).await {
            let _ = n;
        }
    };
    let probes = async {
        for _ in 0..3 {
            assert_eq!(health(served.addr).await, 200);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let cut = async {
        tokio::select! {
            () = trickle => panic!("the slow client was never cut"),
            () = closed => started.elapsed(),
        }
    };
    let (elapsed, ()) =
        tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(cut, probes) })
            .await
            .expect("the slow client is cut within seconds");
    assert!(
        elapsed < Duration::from_millis(1_500),
        "cut after {elapsed:?}"
    );
    assert_eq!(health(served.addr).await, 200);
}

#[tokio::test]
async fn half_open_connections_are_cut_and_capped_so_a_probe_gets_through() {
    let (served, _) = serve("header_read_timeout_ms = 300\nmax_connections = 2\n", None).await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(TcpStream::connect(served.addr).await.unwrap());
    }
    // Two are served at once; the others wait in the backlog, each cut once accepted.
    let probe = tokio::time::timeout(Duration::from_secs(5), health(served.addr)).await;
    assert_eq!(
        probe.expect("the probe is served once the silent ones are cut"),
        200
    );
    for mut stream in silent {
        let answer = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut stream))
            .await
            .expect("every silent connection is closed");
        assert!(!answer.contains("200 OK"), "{answer}");
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let (served, _) = serve("idle_timeout_ms = 300\n", None).await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: loopback\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut stream))
        .await
        .expect("the idle connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Sends `head` then `body` on a new connection while reading; the server's whole answer.
async fn send_raw(addr: SocketAddr, head: String, body: Vec<u8>) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let send = async {
        // The server may close before taking it all: the answer is what matters.
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&body).await;
    };
    let read = async {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    let ((), answer) =
        tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(send, read) })
            .await
            .expect("the server answers and closes");
    answer
}

fn assert_payload_too_large(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_payload_too_large_not_400_or_a_reset() {
    let (served, key) = serve("max_body_bytes = 1024\n", None).await;
    let auth = format!("Bearer {}", key.expose_secret());
    let head = |framing: &str| {
        format!(
            "POST /v1/memories HTTP/1.1\r\nHost: loopback\r\nAuthorization: {auth}\r\n\
             X-Project-ID: proj_demo\r\nContent-Type: application/json\r\n{framing}\r\n"
        )
    };
    // 30 MB with a Content-Length: refused before the body is read, and the answer arrives.
    let big = vec![b'a'; 30 * 1024 * 1024];
    let declared = head(&format!("Content-Length: {}\r\n", big.len()));
    assert_payload_too_large(&send_raw(served.addr, declared, big).await);
    // Chunked: refused once the chunks pass the limit.
    let mut chunks = Vec::new();
    for _ in 0..4 {
        chunks.extend_from_slice(b"200\r\n");
        chunks.extend_from_slice(&[b' '; 0x200]);
        chunks.extend_from_slice(b"\r\n");
    }
    chunks.extend_from_slice(b"0\r\n\r\n");
    let chunked = head("Transfer-Encoding: chunked\r\n");
    assert_payload_too_large(&send_raw(served.addr, chunked, chunks).await);
    // Nothing was stored and the one add of the month is still there to spend.
    let running = served.client();
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    let (status, body) = running
        .send("POST", "/v1/memories", &headers, r#"{"text":"fits"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, listed) = running.send("GET", "/v1/memories", &headers, "").await;
    assert_eq!(listed["results"].as_array().unwrap().len(), 1, "{listed}");
    // A body within the limit, chunked, is served.
    let small = b"10\r\n{\"query\":\"fits\"}\r\n0\r\n\r\n".to_vec();
    let search = head("Transfer-Encoding: chunked\r\nConnection: close\r\n")
        .replace("POST /v1/memories ", "POST /v1/memories/search ");
    let answer = send_raw(served.addr, search, small).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn shutdown_with_the_audit_dir_removed_ends_within_the_grace_and_keeps_a_fallback_file() {
    let state = tempfile::tempdir().unwrap();
    let audit_dir = state.path().join("audit");
    let (served, _) = serve("shutdown_grace_ms = 1000\n", Some(&audit_dir)).await;
    std::fs::remove_dir_all(&audit_dir).unwrap();
    // Refused for want of a key: an audit event the log can no longer write.
    let (status, _) = served.client().send("GET", "/v1/memories", &[], "").await;
    assert_eq!(status, 401);
    let started = Instant::now();
    served.stop.send(()).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(3), served.done)
        .await
        .expect("shutdown ends within its grace");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    ended.unwrap().unwrap();
    let kept: Vec<_> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains("audit-unwritten-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let text = std::fs::read_to_string(&kept[0]).unwrap();
    // The start's reconciliation of the config (an event of its own, method `RECONCILE`) may
    // have been written before the directory went, or kept here with the call's.
    let calls = text
        .lines()
        .filter(|l| !l.contains(r#""method":"RECONCILE""#));
    assert_eq!(calls.count(), 1, "{text}");
    assert!(text.contains(r#""status":401"#), "{text}");
}

/// `GET /health` over HTTPS, trusting `cert`.
async fn https_health(addr: SocketAddr, cert: &super::test_tls::TestCert) -> u16 {
    let url = format!("https://{addr}/health");
    super::test_tls::get(&cert.https_client(), &url).await.0
}

#[tokio::test]
async fn over_tls_silent_connections_are_cut_within_the_header_timeout_and_capped() {
    let cert = super::test_tls::TestCert::new();
    let table = format!(
        "header_read_timeout_ms = 300\nmax_connections = 2\n{}",
        cert.table()
    );
    let (served, _) = serve(&table, None).await;
    // Connected and silent, and one stalled after the first bytes of a handshake record: none
    // may hold a slot past the deadline.
    let mut silent = Vec::new();
    for n in 0..5 {
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        if n == 0 {
            stream.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        }
        silent.push(stream);
    }
    let started = Instant::now();
    let probe = tokio::time::timeout(Duration::from_secs(5), https_health(served.addr, &cert));
    assert_eq!(
        probe
            .await
            .expect("the probe is served once the silent ones are cut"),
        200
    );
    for mut stream in silent {
        let answer = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut stream))
            .await
            .expect("every silent connection is closed");
        assert!(!answer.contains("HTTP/1.1"), "{answer}");
    }
    // Five silent ones, two slots, 300 ms each: about a second, not forever.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn over_tls_a_client_that_finishes_the_handshake_and_sends_nothing_is_cut() {
    let cert = super::test_tls::TestCert::new();
    let table = format!("header_read_timeout_ms = 300\n{}", cert.table());
    let (served, _) = serve(&table, None).await;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cert.client_config()));
    let tcp = TcpStream::connect(served.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("the handshake");
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(1..) = tls.read(&mut buf).await {}
    })
    .await;
    closed.expect("the server closes the idle TLS connection");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(https_health(served.addr, &cert).await, 200);
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails_at_once_and_https_still_answers() {
    let cert = super::test_tls::TestCert::new();
    let (served, _) = serve(&cert.table(), None).await;
    let plain = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("http://{}/health", served.addr).parse().unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(5), plain.get(uri))
        .await
        .expect("the plain client gets an answer or an error, not a hang");
    assert!(answered.is_err(), "{answered:?}");
    // Raw: whatever comes back is no HTTP answer, and the connection ends.
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: loopback\r\n\r\n")
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut stream))
        .await
        .expect("the connection is closed");
    assert!(!answer.contains("HTTP/1.1 200"), "{answer}");
    assert_eq!(https_health(served.addr, &cert).await, 200);
}
