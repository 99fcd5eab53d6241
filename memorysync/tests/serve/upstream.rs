//! `memorysync serve --upstream URL` as an operator runs it: the whole pipeline in front of a
//! service in another language (Python's `http.server`), through the binary's own listener.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::key::ApiKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::Running;
use crate::process::ServerProcess;
use crate::python_upstream::PythonUpstream;

/// The body limit of these tests: 16 MiB, raised from the default for a 10 MB body.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// A config with one key, two adds a month metered on `POST /v2/notes/*` (a path only the
/// upstream knows), the audit log in `dir`, and the raised body limit.
fn write_config(dir: &Path, key: &ApiKey) -> std::path::PathBuf {
    let text = format!(
        "environment = \"development\"\n\
         [server]\nmax_body_bytes = {MAX_BODY}\n\
         [upstream]\nrequest_timeout_ms = 5000\n\
         [audit]\ndir = \"{}\"\n\
         [[projects]]\nid = \"proj_up\"\nadds_per_month = 2\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_up\"\nsha256 = \"{}\"\nproject = \"proj_up\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n\
         [[quota.routes]]\nmethod = \"POST\"\npath = \"/v2/notes/*\"\noperation = \"add\"\n",
        dir.join("audit").display(),
        key.hash().to_hex()
    );
    let path = dir.join("memorysync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The values of `name` among the header fields Python saw.
fn seen(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str().unwrap().to_owned())
        .collect()
}

/// Every audit line the process wrote, as JSON.
fn audit_events(dir: &Path) -> Vec<Value> {
    let mut events = Vec::new();
    for entry in std::fs::read_dir(dir.join("audit")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            events.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap())
                    // The start's reconciliation of the config: an event of its own.
                    .filter(|event| event["method"] != "RECONCILE"),
            );
        }
    }
    events
}

/// Sends `head` (a request head ending in a blank line) then `body`, and reads the status of
/// the answer: for bodies a client library would not send (a false length, endless chunks).
async fn raw_status(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before taking the whole body: a write error is fine.
    let _ = stream.write_all(body).await;
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let line = String::from_utf8_lossy(&answer[..read]).into_owned();
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_puts_the_pipeline_in_front_of_a_python_service() {
    let Some(python) = PythonUpstream::start().await else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let key = ApiKey::generate(Environment::Development).unwrap();
    let config = write_config(state.path(), &key);
    let upstream = python.url();
    let server =
        ServerProcess::start_with(&config, &["--instance", "up", "--upstream", &upstream], &[])
            .await;
    let client = Running::at(server.addr);
    let bearer = format!("Bearer {}", key.expose_secret());

    // The identity comes from the pipeline: forged fields and the `Connection` trick undone,
    // the key never passed on.
    let forged = [
        ("authorization", bearer.as_str()),
        ("x-project-id", "proj_up"),
        ("x-memorysync-project", "proj_victim"),
        ("x-memorysync-key-id", "key_admin"),
        ("connection", "x-memorysync-environment"),
    ];
    let (status, echo) = client.send("POST", "/v2/notes/a?x=1", &forged, "{}").await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["path"], "/v2/notes/a?x=1");
    assert_eq!(seen(&echo, "x-memorysync-key-id"), ["key_up"]);
    assert_eq!(seen(&echo, "x-memorysync-project"), ["proj_up"]);
    assert_eq!(seen(&echo, "x-memorysync-environment"), ["development"]);
    assert_eq!(seen(&echo, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen(&echo, "x-forwarded-proto"), ["http"]);
    assert!(seen(&echo, "authorization").is_empty(), "{echo}");

    // A 10 MB body with its length, within the raised limit, arrives whole.
    let big = "x".repeat(10 * 1024 * 1024);
    let credentials = [
        ("authorization", bearer.as_str()),
        ("x-project-id", "proj_up"),
    ];
    let (status, echo) = client.send("PUT", "/v2/blobs/1", &credentials, &big).await;
    assert_eq!(status, 200);
    assert_eq!(echo["body_len"], big.len());

    // The config's quota routes meter a path the demo API does not have: the second add is
    // the last of the month, the third degrades without reaching Python.
    let (status, echo) = client.send("POST", "/v2/notes/b", &credentials, "{}").await;
    assert_eq!((status, echo["method"].as_str()), (200, Some("POST")));
    let (status, degraded) = client.send("POST", "/v2/notes/c", &credentials, "{}").await;
    assert_eq!(status, 200);
    assert_eq!(degraded, serde_json::json!({"results": []}));

    // A declared length over the limit: 413 before the upstream is contacted.
    let auth = format!("Authorization: {bearer}\r\nX-Project-ID: proj_up\r\n");
    let head = format!(
        "PUT /v2/blobs/2 HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    assert_eq!(raw_status(server.addr, &head, b"").await, 413);

    // Health includes the upstream, which answers.
    let (status, health) = client.send("GET", "/health", &[], "").await;
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("ok")),
        "{health}"
    );

    let (exit, _) = server.terminate().await;
    assert!(exit.success());
    // One audit event per call that passed the health route, each with its final status.
    let statuses: Vec<u64> = audit_events(state.path())
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 413], "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_past_the_limit_is_413_through_the_binarys_listener() {
    // An upstream that takes every byte and never answers: the proxy streams the body to it,
    // and the limit, not a response, ends the exchange.
    let hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", hole.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = hole.accept().await {
            tokio::spawn(async move {
                let mut sink = vec![0; 64 * 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    let state = tempfile::tempdir().unwrap();
    let key = ApiKey::generate(Environment::Development).unwrap();
    let config = write_config(state.path(), &key);
    let server =
        ServerProcess::start_with(&config, &["--instance", "up", "--upstream", &upstream], &[])
            .await;
    let head = format!(
        "POST /v2/notes/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         X-Project-ID: proj_up\r\nTransfer-Encoding: chunked\r\n\r\n",
        key.expose_secret()
    );
    // 17 chunks of 1 MiB: past the 16 MiB limit, with no length to refuse up front.
    let mut body = Vec::new();
    for _ in 0..17 {
        body.extend_from_slice(b"100000\r\n");
        body.extend(std::iter::repeat_n(b'y', 1024 * 1024));
        body.extend_from_slice(b"\r\n");
    }
    assert_eq!(raw_status(server.addr, &head, &body).await, 413);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_is_502_and_degrades_health() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", port.local_addr().unwrap());
    drop(port);
    let state = tempfile::tempdir().unwrap();
    let key = ApiKey::generate(Environment::Development).unwrap();
    let config = write_config(state.path(), &key);
    let server =
        ServerProcess::start_with(&config, &["--instance", "up", "--upstream", &dead], &[]).await;
    let client = Running::at(server.addr);
    let bearer = format!("Bearer {}", key.expose_secret());
    let credentials = [
        ("authorization", bearer.as_str()),
        ("x-project-id", "proj_up"),
    ];
    // Three adds on a plan of two, all 502: each unit went back, as nothing reached the
    // upstream (a kept unit would have made the third a silent degrade).
    for _ in 0..3 {
        let (status, problem) = client.send("POST", "/v2/notes/a", &credentials, "{}").await;
        assert_eq!(status, 502);
        assert_eq!(problem["code"], "upstream_unavailable");
    }
    let (status, health) = client.send("GET", "/health", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["checks"].get("upstream").is_some(), "{health}");
    server.kill().await;
}

#[tokio::test]
async fn an_upstream_url_with_a_password_is_refused_without_echoing_it() {
    let state = tempfile::tempdir().unwrap();
    let key = ApiKey::generate(Environment::Development).unwrap();
    let config = write_config(state.path(), &key);
    let (exit, output) = crate::process::run_to_exit(
        &config,
        &["--upstream", "http://admin:hunter2@127.0.0.1:9/"],
    )
    .await;
    assert!(!exit.success());
    assert!(output.contains("--upstream"), "{output}");
    assert!(
        !output.contains("hunter2"),
        "the password was echoed: {output}"
    );
}
