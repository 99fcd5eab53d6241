//! The hyper example end to end: a real hyper server on loopback, a real client, and a clock
//! that moves only when the test moves it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{AuditLog, MemoryAuditSink};
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::key::ApiKey;
use serde_json::Value;

/// Every address of 127.0.0.0/8 is loopback on Linux: a client bound to another one is a
/// second client IP on the same machine.
const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const NEIGHBOUR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

struct Running {
    addr: SocketAddr,
    clock: ManualClock,
    audit: AuditLog,
    audit_lines: MemoryAuditSink,
    bearer: String,
}

/// The example's app for a config with one project and one development key, on an ephemeral
/// loopback port.
async fn start() -> Running {
    let key = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_demo\"\nadds_per_month = 100\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"development\"\nrps = 10\nrpm = 300\n",
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    let audit_lines = MemoryAuditSink::new();
    let options = DeploymentOptions::new()
        .with_clock(clock.clone())
        .with_audit_sink(audit_lines.clone());
    let deployment = Deployment::start(&config, options).await.unwrap();
    let audit = deployment.audit().clone();
    let service = super::app::build(&deployment);
    let listener = tokio::net::TcpListener::bind((HOME, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(super::app::serve(listener, service, std::future::pending()));
    Running {
        addr,
        clock,
        audit,
        audit_lines,
        bearer: format!("Bearer {}", key.expose_secret()),
    }
}

impl Running {
    /// Sends one request from a connection bound to `from`: status, header fields, JSON body.
    async fn send(
        &self,
        from: IpAddr,
        (method, path): (&str, &str),
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, HeaderMap, Value) {
        let mut connector = HttpConnector::new();
        connector.set_local_address(Some(from));
        let client = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::from(body.to_owned())).unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let fields = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            fields,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn with_key(&self) -> [(&str, &str); 2] {
        [
            ("authorization", &self.bearer),
            ("x-project-id", "proj_demo"),
        ]
    }

    async fn health(&self, from: IpAddr, headers: &[(&str, &str)]) -> u16 {
        self.send(from, ("GET", "/health"), headers, "").await.0
    }
}

#[tokio::test]
async fn health_answers_without_a_key() {
    let server = start().await;
    let (status, _, body) = server.send(HOME, ("GET", "/health"), &[], "").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
}

#[tokio::test]
async fn a_call_without_a_key_is_a_401_problem() {
    let server = start().await;
    let (status, headers, body) = server.send(HOME, ("GET", "/v1/memories"), &[], "").await;
    assert_eq!(status, 401);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(body["code"], "missing_api_key");
    assert_eq!(body["status"], 401);
}

#[tokio::test]
async fn a_good_key_is_admitted_and_its_memories_are_kept() {
    let server = start().await;
    let headers = server.with_key();
    let add = ("POST", "/v1/memories");
    let (status, fields, body) = server
        .send(HOME, add, &headers, r#"{"text":"Likes Rust"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["event"], "ADD");
    assert!(fields.contains_key("ratelimit-policy"), "{fields:?}");

    let search = ("POST", "/v1/memories/search");
    let (_, _, body) = server
        .send(HOME, search, &headers, r#"{"query":"rust"}"#)
        .await;
    assert_eq!(body["results"][0]["text"], "Likes Rust");

    let other = [headers[0], ("x-project-id", "proj_other")];
    let (status, _, body) = server.send(HOME, ("GET", "/v1/memories"), &other, "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("project_mismatch"))
    );
}

#[tokio::test]
async fn the_sixth_health_probe_in_a_second_from_one_ip_is_429() {
    let server = start().await;
    for probe in 1..=5 {
        assert_eq!(server.health(HOME, &[]).await, 200, "probe {probe}");
    }
    let (status, headers, body) = server.send(HOME, ("GET", "/health"), &[], "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("health_rate_limited"))
    );
    assert_eq!(headers["retry-after"], "1");

    server.clock.advance(Duration::from_secs(1));
    assert_eq!(server.health(HOME, &[]).await, 200);
}

#[tokio::test]
async fn the_client_ip_is_the_connections_peer_not_what_the_client_claims() {
    let server = start().await;
    for _ in 0..5 {
        server.health(HOME, &[]).await;
    }
    // Another source address has a window of its own: the limit keys on the real peer.
    assert_eq!(server.health(NEIGHBOUR, &[]).await, 200);
    // No proxy is trusted, so a forwarded address changes nothing.
    let spoofed = [("x-forwarded-for", "127.0.0.3")];
    assert_eq!(server.health(HOME, &spoofed).await, 429);

    // The audit log records the peer of each call too.
    let headers = server.with_key();
    let (status, _, _) = server
        .send(NEIGHBOUR, ("GET", "/v1/memories"), &headers, "")
        .await;
    assert_eq!(status, 200);
    server.audit.flush().await;
    // The start's reconciliation of the config is an event of its own (method `RECONCILE`).
    let lines: Vec<String> = server
        .audit_lines
        .lines()
        .into_iter()
        .filter(|line| !line.contains(r#""method":"RECONCILE""#))
        .collect();
    assert_eq!(lines.len(), 1, "health probes are not audited: {lines:?}");
    let event: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(event["client_ip"], "127.0.0.2", "{event}");
}
