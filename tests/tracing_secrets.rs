//! Tracing output never holds a secret, and the stage spans name who called.
//!
//! Everything is captured at TRACE level with every span event and field (the most a subscriber
//! can be told to show) while valid and invalid `msk_` keys go through the whole pipeline and
//! webhooks signed with a `whsec_` secret are delivered, retried and dead-lettered. The text
//! must not contain `msk_`, `whsec_`, a key's random part, its hash, or the secret's bytes.
//!
//! A binary of its own: `tracing` caches each callsite's interest for the whole process, computed
//! by the first thread that reaches it, so a test of the same binary that reaches a stage's span
//! with no subscriber would switch that span off for this test's subscriber too.
#![allow(clippy::unwrap_used)]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::captured::Captured;
use common::stack::{KEY_ID, PROJECT, Stack};
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::webhook::{
    Endpoint, MemoryWebhookQueue, RetryPolicy, Verifier, WebhookSecret, WebhookSettings, Webhooks,
    signed_headers,
};
use tracing_subscriber::fmt::format::FmtSpan;

/// `ok.test` answers 200; anything else 500.
async fn receiver(request: http::Request<Bytes>) -> Result<http::Response<()>, Infallible> {
    let status = if request.uri().host() == Some("ok.test") {
        200
    } else {
        500
    };
    Ok(http::Response::builder().status(status).body(()).unwrap())
}

/// Signs, verifies and delivers webhooks with `secret`: one arrives, one is dead-lettered.
async fn webhooks_signed_with(secret: &WebhookSecret) {
    let body = br#"{"type":"webhook.test"}"#;
    let headers = signed_headers(
        std::slice::from_ref(secret),
        "msg_trace",
        1_800_000_000,
        body,
    );
    let verifier = Verifier::new(secret.clone());
    let now = Timestamp::from_unix_secs(1_800_000_000);
    assert!(
        verifier
            .verify(&headers[0].1, &headers[1].1, &headers[2].1, body, now)
            .is_ok()
    );

    let endpoints = ["ok", "down"].map(|host| {
        let url = format!("http://{host}.test/hooks").parse().unwrap();
        Endpoint::new(url, secret.clone(), Vec::<String>::new())
    });
    let policy = RetryPolicy {
        delays: vec![Duration::ZERO],
        jitter: 0.0,
        request_timeout: Duration::from_secs(1),
    };
    let settings =
        WebhookSettings::new(endpoints.to_vec(), Environment::Development).with_policy(policy);
    // What a careless `?value` in a log line would show.
    tracing::info!(?secret, ?settings, endpoint = ?endpoints[0], "webhook settings");
    let transport = tower::service_fn(receiver);
    let webhooks = Webhooks::start(MemoryWebhookQueue::new(), transport, settings).unwrap();
    webhooks.send_test();
    for _ in 0..1_000 {
        let stats = webhooks.stats();
        if stats.delivered == 1 && stats.dead_lettered == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(webhooks.stats().dead_lettered, 1);
    assert!(
        webhooks.shutdown(Duration::from_secs(1)).await.is_empty(),
        "the queue took every event"
    );
}

#[test]
fn traces_name_the_key_id_and_project_and_never_a_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let secret = WebhookSecret::generate().unwrap();
    let keys = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let stack = Stack::new().await;
            tracing::info!(key = ?stack.key, "the key, as Debug shows it");
            stack.run_every_decision().await;
            webhooks_signed_with(&secret).await;
            [stack.key, stack.revoked, stack.expired]
        })
    });
    let text = captured.text();

    assert!(!text.contains("msk_"), "a key prefix in\n{text}");
    assert!(!text.contains("whsec_"), "a secret prefix in\n{text}");
    let encoded = secret.expose()["whsec_".len()..].to_owned();
    let bytes = STANDARD.decode(&encoded).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let listed = format!("{bytes:?}");
    for leak in [encoded, hex, listed] {
        assert!(
            !text.contains(&leak),
            "the webhook secret ({leak}) in\n{text}"
        );
    }
    for key in keys {
        let random = &key.expose_secret()["msk_test_".len()..];
        assert!(!text.contains(random), "a key in\n{text}");
        assert!(
            !text.contains(&key.hash().to_hex()),
            "a key hash in\n{text}"
        );
    }

    let (key_id, project) = (
        format!("key_id=\"{KEY_ID}\""),
        format!("project=\"{PROJECT}\""),
    );
    for stage in ["auth", "scope", "limit", "quota", "audit"] {
        let span = format!("memorysync.{stage}{{");
        let named = text
            .lines()
            .any(|l| l.contains(&span) && l.contains(&key_id) && l.contains(&project));
        assert!(named, "no {span}..{key_id} {project}..}} in\n{text}");
    }
    assert!(
        text.contains("memorysync.health"),
        "no health span in\n{text}"
    );
    assert!(
        text.contains("operation=\"add\""),
        "no quota operation in\n{text}"
    );
}
