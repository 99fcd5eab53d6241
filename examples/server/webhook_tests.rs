//! The server delivering signed quota alerts to a receiver on loopback, checked by this crate's
//! verifier and by the Python `standardwebhooks` package (through the integration tests' own
//! helper, `tests/common/standardwebhooks.rs`).
#![allow(clippy::unwrap_used)]

#[path = "../../tests/common/standardwebhooks.rs"]
mod standardwebhooks;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{ManualClock, SystemClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::webhook::{Verifier, WebhookSecret};
use serde_json::Value;
use tokio::sync::mpsc;

async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let arrived = Arc::new(arrived);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let arrived = arrived.clone();
            async move {
                let _ = arrived.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

/// `Some(accepted)` from Python's `standardwebhooks.Webhook(secret).verify`, `None` when Python
/// or the package cannot be had (and the environment does not require them).
fn python_verifies(secret: &WebhookSecret, headers: &HeaderMap, body: &[u8]) -> Option<bool> {
    let python = standardwebhooks::python()?;
    let header = |name: &'static str| (name, headers[name].to_str().unwrap().to_owned());
    let fields = [
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ];
    let answer = python.run(&[standardwebhooks::verify_request(secret, &fields, body)]);
    Some(answer[0]["ok"] == true)
}

#[tokio::test]
async fn quota_alerts_arrive_signed_and_standardwebhooks_accepts_them() {
    let (url, mut arrivals) = receiver().await;
    let secret = WebhookSecret::generate().unwrap();
    let secret_text = secret.expose();
    let key = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_hooks\"\nadds_per_month = 4\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_hooks\"\nsha256 = \"{}\"\nproject = \"proj_hooks\"\nenvironment = \"development\"\nrps = 10\nrpm = 300\n\
         [[webhooks]]\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\nevents = [\"quota.threshold\", \"quota.exhausted\"]\n",
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let lookup = move |name: &str| (name == "HOOK_SECRET").then(|| secret_text.clone());
    let clock = ManualClock::new(system_now());
    let app = super::app::build_with_secrets(&config, false, "test", clock, |_| {}, &lookup)
        .await
        .unwrap();
    let webhooks = app.webhooks.clone().unwrap();
    let server = super::tests::serve_router(app.router).await;
    let auth = format!("Bearer {}", key.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_hooks"),
    ];
    for n in 0..3 {
        let body = format!(r#"{{"text":"memory {n}"}}"#);
        assert_eq!(
            server.send("POST", "/v1/memories", &headers, &body).await.0,
            200
        );
    }

    // The third of four adds crosses 75%: one quota.threshold event.
    let (received, body) =
        tokio::time::timeout(std::time::Duration::from_secs(10), arrivals.recv())
            .await
            .expect("the webhook arrived")
            .unwrap();
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["type"], "quota.threshold");
    assert_eq!(event["data"]["project"], "proj_hooks");
    assert_eq!(event["data"]["threshold"], 75);
    assert_eq!(
        (
            event["data"]["used"].as_u64(),
            event["data"]["limit"].as_u64()
        ),
        (Some(3), Some(4))
    );

    let verifier = Verifier::new(secret.clone());
    verifier
        .verify_headers(&received, &body, system_now())
        .expect("our verifier accepts the delivery");
    if let Some(accepted) = python_verifies(&secret, &received, &body) {
        assert!(accepted, "standardwebhooks refused the delivery");
        let tampered = [&body[..], b" "].concat();
        assert_eq!(python_verifies(&secret, &received, &tampered), Some(false));
    }
    webhooks.shutdown(std::time::Duration::from_secs(1)).await;
    assert_eq!(webhooks.stats().delivered, 1);
}

fn system_now() -> Timestamp {
    use memorysync_pipeline::clock::Clock;
    SystemClock.now()
}
