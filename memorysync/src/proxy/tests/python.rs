//! Python's `http.server` behind the proxy: a service in another language, as the proxy is for.

use memorysync_pipeline::quota::Operation;

use super::client::send;
use super::harness::{KEY_ID, PROJECT, Proxied, Setup};
use super::python_upstream::PythonUpstream;

/// The headers Python saw, by lowercase name, every value.
fn seen(echo: &serde_json::Value, name: &str) -> Vec<String> {
    let headers = echo["headers"].as_array().expect("a header list");
    headers
        .iter()
        .filter(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str().expect("a value").to_owned())
        .collect()
}

#[tokio::test]
async fn python_gets_the_identity_and_forwarding_fields_and_no_key() {
    let Some(python) = PythonUpstream::start().await else {
        return;
    };
    let proxied = Proxied::start(&python.url(), Setup::default()).await;
    let mut headers = proxied.credentials().to_vec();
    headers.push(("x-memorysync-project", "proj_victim".to_owned()));
    headers.push(("connection", "x-memorysync-key-id".to_owned()));
    headers.push(("x-forwarded-for", "6.6.6.6".to_owned()));
    let answer = send(
        proxied.addr,
        "POST",
        "/v2/notes/a?x=1",
        &headers,
        r#"{"text":"hi"}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let echo = answer.json();
    assert_eq!(
        (echo["method"].as_str(), echo["path"].as_str()),
        (Some("POST"), Some("/v2/notes/a?x=1"))
    );
    assert_eq!(seen(&echo, "x-memorysync-key-id"), [KEY_ID]);
    assert_eq!(seen(&echo, "x-memorysync-project"), [PROJECT]);
    assert_eq!(seen(&echo, "x-memorysync-environment"), ["development"]);
    assert_eq!(seen(&echo, "x-forwarded-for"), ["127.0.0.1"]);
    assert!(seen(&echo, "authorization").is_empty(), "{echo}");
    let id = answer.headers["x-request-id"].to_str().expect("ascii");
    assert_eq!(seen(&echo, "x-request-id"), [id]);
    assert_eq!(echo["body_len"], 13);
    assert_eq!(proxied.used(Operation::Add).await, 1);
    assert_eq!(proxied.audited_statuses().await, [200]);
}

/// 3 MB with a `Content-Length` (what `http.server` reads), within a raised limit, arrives
/// whole: Python's SHA-256 of it is the client's.
#[tokio::test]
async fn python_gets_a_large_body_whole() {
    let Some(python) = PythonUpstream::start().await else {
        return;
    };
    let setup = Setup {
        max_body_bytes: 4 * 1024 * 1024,
        ..Setup::default()
    };
    let proxied = Proxied::start(&python.url(), setup).await;
    let body: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    let digest = sha256_hex(&body);
    let headers = proxied.credentials();
    let answer = send(proxied.addr, "PUT", "/v2/notes/big", &headers, body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let echo = answer.json();
    assert_eq!(echo["body_len"], 3 * 1024 * 1024);
    assert_eq!(echo["body_sha256"].as_str(), Some(digest.as_str()));
}

/// The SHA-256 of `data` in lowercase hex.
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
