//! The server delivering signed quota alerts to a receiver on loopback, checked by this crate's
//! verifier and by the Python `standardwebhooks` package (through the integration tests' own
//! helper, `tests/common/standardwebhooks.rs`).
#![allow(clippy::unwrap_used)]

#[path = "../../../tests/common/standardwebhooks.rs"]
mod standardwebhooks;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{ManualClock, SystemClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, DeploymentWebhooks};
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::webhook::{Verifier, WebhookSecret};
use serde_json::Value;
use tokio::sync::mpsc;

async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    answering(axum::http::StatusCode::OK).await
}

/// A receiver on loopback that answers every delivery with `status`.
async fn answering(
    status: axum::http::StatusCode,
) -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let arrived = Arc::new(arrived);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let arrived = arrived.clone();
            async move {
                let _ = arrived.send((headers, body));
                (status, "ok")
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
    let options = DeploymentOptions::new()
        .with_instance("test")
        .with_clock(clock)
        .with_secret_source(lookup);
    let app = super::app::build(&config, super::app::Backend::Demo, options)
        .await
        .unwrap();
    let webhooks = app.deployment.webhooks().unwrap().clone();
    let served = super::testing::serve(app, config, None).await;
    let server = served.client();
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
    assert!(
        webhooks
            .shutdown(std::time::Duration::from_secs(1))
            .await
            .is_empty(),
        "the queue took every event"
    );
    assert_eq!(webhooks.stats().delivered, 1);
}

fn system_now() -> Timestamp {
    use memorysync_pipeline::clock::Clock;
    SystemClock.now()
}

fn alert(project: &str) -> memorysync_pipeline::quota::QuotaAlert {
    memorysync_pipeline::quota::QuotaAlert {
        project: Arc::from(project),
        operation: memorysync_pipeline::quota::Operation::Add,
        month: memorysync_pipeline::quota::Month::new(2027, 1).unwrap(),
        threshold: 90,
        used: 9,
        limit: 10,
    }
}

const TWO_PROJECTS: &str = "environment = \"development\"\n\
    [[projects]]\nid = \"proj_a\"\nadds_per_month = 10\nqueries_per_month = 10\n\
    [[projects]]\nid = \"proj_b\"\nadds_per_month = 10\nqueries_per_month = 10\n";

#[tokio::test]
async fn a_rotating_endpoint_signs_with_every_configured_secret_and_standardwebhooks_accepts_either()
 {
    let (url, mut arrivals) = receiver().await;
    let (new, old) = (
        WebhookSecret::generate().unwrap(),
        WebhookSecret::generate().unwrap(),
    );
    let text = format!(
        "{TWO_PROJECTS}[[webhooks]]\nurl = \"{url}\"\nsecret_env = [\"HOOK_NEW\", \"HOOK_OLD\"]\n\
         events = [\"quota.threshold\"]\nprojects = [\"proj_a\"]\n"
    );
    let config = Config::from_toml(&text).unwrap();
    let (new_text, old_text) = (new.expose(), old.expose());
    let lookup = move |name: &str| match name {
        "HOOK_NEW" => Some(new_text.clone()),
        "HOOK_OLD" => Some(old_text.clone()),
        _ => None,
    };
    let hooks = webhooks_of(&config, lookup).await;
    let publish = hooks.quota_alert_sink();
    // Another tenant's alert first: the scoped endpoint must not see it.
    publish(&alert("proj_b"));
    publish(&alert("proj_a"));
    let (received, body) =
        tokio::time::timeout(std::time::Duration::from_secs(10), arrivals.recv())
            .await
            .expect("the webhook arrived")
            .unwrap();
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["data"]["project"], "proj_a");
    let signatures = received["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    for secret in [&new, &old] {
        Verifier::new(secret.clone())
            .verify_headers(&received, &body, system_now())
            .expect("our verifier accepts the delivery with either secret");
        if let Some(accepted) = python_verifies(secret, &received, &body) {
            assert!(accepted, "standardwebhooks refused the delivery");
        }
    }
    let other = WebhookSecret::generate().unwrap();
    assert_ne!(python_verifies(&other, &received, &body), Some(true));
    assert!(
        hooks
            .shutdown(std::time::Duration::from_secs(1))
            .await
            .is_empty(),
        "the queue took every event"
    );
    assert_eq!(hooks.stats().published, 1);
    assert!(
        arrivals.try_recv().is_err(),
        "proj_b's alert reached proj_a's endpoint"
    );
}

#[tokio::test]
async fn a_configured_retry_schedule_dead_letters_in_milliseconds_not_28_hours() {
    let (url, mut arrivals) = answering(axum::http::StatusCode::SERVICE_UNAVAILABLE).await;
    let secret = WebhookSecret::generate().unwrap().expose();
    let text = format!(
        "{TWO_PROJECTS}[webhooks_retry]\nschedule = [\"0s\", \"20ms\", \"20ms\"]\n\
         [[webhooks]]\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\nevents = [\"quota.threshold\"]\n"
    );
    let config = Config::from_toml(&text).unwrap();
    let lookup = move |_: &str| Some(secret.clone());
    let hooks = webhooks_of(&config, lookup).await;
    (hooks.quota_alert_sink())(&alert("proj_a"));
    for attempt in 1..=3 {
        tokio::time::timeout(std::time::Duration::from_secs(10), arrivals.recv())
            .await
            .unwrap_or_else(|_| panic!("attempt {attempt} arrived"));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The worker's bookkeeping after the third answer: polled under a deadline.
    while hooks.stats().dead_lettered == 0 {
        assert!(std::time::Instant::now() < deadline, "{:?}", hooks.stats());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        hooks
            .shutdown(std::time::Duration::from_secs(1))
            .await
            .is_empty(),
        "the queue took every event"
    );
    assert_eq!(
        (hooks.stats().attempts, hooks.stats().dead_lettered),
        (3, 1)
    );
    assert!(arrivals.try_recv().is_err(), "a fourth attempt");
}

/// The webhook dispatcher of a deployment of `config`, its secrets read through `lookup`.
async fn webhooks_of(
    config: &Config,
    lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> DeploymentWebhooks {
    let options = DeploymentOptions::new().with_secret_source(lookup);
    let deployment = Deployment::start(config, options).await.unwrap();
    deployment.webhooks().unwrap().clone()
}
