//! What the upstream is told: the identity it can trust, no credentials, no hop-by-hop fields,
//! the forwarding fields, the request id the audit log records.

use super::client::{send, send_raw};
use super::harness::{KEY_ID, PROJECT, Proxied, Setup};
use super::upstreams::ok_upstream;

#[tokio::test]
async fn the_identity_comes_from_the_pipeline_and_forged_fields_are_replaced() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let mut headers = proxied.credentials().to_vec();
    for (name, forged) in [
        ("x-memorysync-key-id", "key_admin"),
        ("x-memorysync-key-id", "key_second"),
        ("X-MemorySync-Project", "proj_victim"),
        ("x-memorysync-environment", "production"),
    ] {
        headers.push((name, forged.to_owned()));
    }
    let answer = send(proxied.addr, "GET", "/v2/notes", &headers, "").await;
    assert_eq!(
        (answer.status, &answer.body[..]),
        (200, &b"ok"[..]),
        "{answer:?}"
    );
    let seen = upstream.last();
    assert_eq!(seen.one("x-memorysync-key-id").as_deref(), Some(KEY_ID));
    assert_eq!(seen.one("x-memorysync-project").as_deref(), Some(PROJECT));
    assert_eq!(
        seen.one("x-memorysync-environment").as_deref(),
        Some("development")
    );
}

/// `Connection` names the identity fields, as if they were hop-by-hop: a proxy that removed
/// them after writing them would send the request with no identity at all.
#[tokio::test]
async fn connection_naming_the_identity_fields_does_not_drop_them() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let mut headers = proxied.credentials().to_vec();
    headers.push((
        "connection",
        "x-memorysync-project, X-MemorySync-Key-Id".to_owned(),
    ));
    headers.push((
        "connection",
        "x-memorysync-environment, x-request-id".to_owned(),
    ));
    headers.push(("x-memorysync-project", "proj_victim".to_owned()));
    headers.push(("x-request-id", "trace-42".to_owned()));
    let answer = send(proxied.addr, "GET", "/v2/notes", &headers, "").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = upstream.last();
    assert_eq!(seen.one("x-memorysync-key-id").as_deref(), Some(KEY_ID));
    assert_eq!(seen.one("x-memorysync-project").as_deref(), Some(PROJECT));
    assert_eq!(
        seen.one("x-memorysync-environment").as_deref(),
        Some("development")
    );
    assert_eq!(seen.one("x-request-id").as_deref(), Some("trace-42"));
    assert_eq!(seen.one("connection"), None);
}

#[tokio::test]
async fn the_api_key_never_reaches_the_upstream_in_either_field() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let secret = proxied.key.expose_secret().to_owned();
    let project = ("x-project-id", PROJECT.to_owned());
    for field in [
        ("authorization", format!("Bearer {secret}")),
        ("x-api-key", secret.clone()),
    ] {
        let answer = send(
            proxied.addr,
            "GET",
            "/v2/notes",
            &[field.clone(), project.clone()],
            "",
        )
        .await;
        assert_eq!(answer.status, 200, "{field:?}: {answer:?}");
        let seen = upstream.last();
        assert_eq!(seen.one("authorization"), None);
        assert_eq!(seen.one("x-api-key"), None);
        let leaked = seen.headers.values().any(|v| {
            let text = String::from_utf8_lossy(v.as_bytes());
            text.contains(&secret[9..])
        });
        assert!(
            !leaked,
            "the key's secret part reached the upstream: {:?}",
            seen.headers
        );
    }
}

#[tokio::test]
async fn hop_by_hop_fields_are_removed_both_ways() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let mut headers = proxied.credentials().to_vec();
    for (name, value) in [
        ("connection", "keep-alive, x-client-hop"),
        ("x-client-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("proxy-authorization", "Basic cHJveHk6c2VjcmV0"),
        ("proxy-connection", "keep-alive"),
        ("te", "trailers"),
        ("upgrade", "websocket"),
        ("x-client-kept", "yes"),
    ] {
        headers.push((name, value.to_owned()));
    }
    let answer = send(proxied.addr, "GET", "/v2/notes", &headers, "").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = upstream.last();
    for gone in [
        "x-client-hop",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "upgrade",
    ] {
        assert_eq!(seen.one(gone), None, "{gone} reached the upstream");
    }
    assert_eq!(seen.one("x-client-kept").as_deref(), Some("yes"));
    // The upstream's own: `Connection: x-upstream-hop`, `X-Upstream-Hop`, `Keep-Alive`.
    assert!(!answer.headers.contains_key("x-upstream-hop"), "{answer:?}");
    assert!(!answer.headers.contains_key("keep-alive"), "{answer:?}");
    assert_eq!(answer.headers["x-upstream-kept"], "yes");
}

#[tokio::test]
async fn an_untrusted_peer_s_forwarded_for_is_replaced_by_the_peer() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let mut headers = proxied.credentials().to_vec();
    headers.push(("x-forwarded-for", "6.6.6.6".to_owned()));
    headers.push(("x-forwarded-proto", "https".to_owned()));
    headers.push(("x-forwarded-host", "forged.example".to_owned()));
    headers.push(("forwarded", "for=6.6.6.6".to_owned()));
    let answer = send(proxied.addr, "GET", "/v2/notes", &headers, "").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = upstream.last();
    assert_eq!(seen.all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen.one("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(seen.one("x-forwarded-host").as_deref(), Some("proxy.test"));
    assert_eq!(seen.one("forwarded"), None);
    // The upstream is asked for by its own authority.
    assert_eq!(seen.one("host"), Some(upstream.addr.to_string()));
}

#[tokio::test]
async fn a_trusted_peer_s_forwarded_for_is_kept_and_the_peer_appended() {
    let upstream = ok_upstream().await;
    let setup = Setup {
        loopback_trusted: true,
        ..Setup::default()
    };
    let proxied = Proxied::start(&upstream.url(""), setup).await;
    let mut headers = proxied.credentials().to_vec();
    headers.push(("x-forwarded-for", "203.0.113.7".to_owned()));
    headers.push(("x-forwarded-for", "198.51.100.2".to_owned()));
    let answer = send(proxied.addr, "GET", "/v2/notes", &headers, "").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = upstream.last();
    assert_eq!(
        seen.all("x-forwarded-for"),
        ["203.0.113.7, 198.51.100.2, 127.0.0.1"]
    );
    // The audit log names the client the trusted proxy forwarded for.
    let events = proxied.events().await;
    assert_eq!(events[0]["client_ip"], "198.51.100.2", "{events:?}");
}

#[tokio::test]
async fn the_upstream_sees_the_request_id_the_audit_log_records() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let mut headers = proxied.credentials().to_vec();
    // Two ids: neither is believed, and one is generated.
    headers.push(("x-request-id", "first".to_owned()));
    headers.push(("x-request-id", "second".to_owned()));
    let answer = send(proxied.addr, "GET", "/v2/notes", &headers, "").await;
    let echoed = answer.headers["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(echoed.starts_with("req_"), "{echoed}");
    assert_eq!(upstream.last().all("x-request-id"), [echoed.as_str()]);
    let events = proxied.events().await;
    assert_eq!(events[0]["request_id"], echoed.as_str());
}

#[tokio::test]
async fn the_base_path_query_and_method_reach_the_upstream() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url("/base/"), Setup::default()).await;
    let headers = proxied.credentials().to_vec();
    let answer = send(
        proxied.addr,
        "DELETE",
        "/v2/notes/n1?hard=true&x=%20",
        &headers,
        "",
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = upstream.last();
    assert_eq!(seen.method, "DELETE");
    assert_eq!(seen.uri.to_string(), "/base/v2/notes/n1?hard=true&x=%20");
}

/// Without a key the pipeline refuses, and the upstream is never contacted.
#[tokio::test]
async fn a_request_the_pipeline_refuses_never_reaches_the_upstream() {
    let upstream = ok_upstream().await;
    let proxied = Proxied::start(&upstream.url(""), Setup::default()).await;
    let project = [("x-project-id", PROJECT.to_owned())];
    let answer = send(proxied.addr, "POST", "/v2/notes/a", &project, "{}").await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (401, "missing_api_key")
    );
    let head = "GET /v2/notes HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n\
                X-Project-ID: proj_demo\r\nAuthorization: Bearer msk_test_nope\r\n\r\n";
    assert!(
        send_raw(proxied.addr, head, b"")
            .await
            .starts_with("HTTP/1.1 401")
    );
    assert_eq!(upstream.connections(), 0);
    assert_eq!(proxied.audited_statuses().await, [401, 401]);
}
