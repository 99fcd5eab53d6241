//! Which endpoints an event reaches, and the `[[webhooks]]` / `[webhooks_retry]` fields that
//! decide it: a project's quota alerts go to its own endpoints and the operator-wide ones, never
//! to another tenant's; `secret_env` may list several variables; the retry schedule is the
//! operator's. Delivered through an in-process transport that records each request: no network.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use memorysync_pipeline::Environment;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::quota::{Month, Operation, QuotaAlert};
use memorysync_pipeline::webhook::{
    Endpoint, MemoryWebhookQueue, WebhookSecret, WebhookSettings, Webhooks,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tower::service_fn;

fn alert(project: &str) -> QuotaAlert {
    QuotaAlert {
        project: Arc::from(project),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
        threshold: 75,
        used: 75,
        limit: 100,
    }
}

/// A transport that answers 200 and sends `(url, body)` of every request to `arrived`.
fn recording_transport(
    arrived: mpsc::UnboundedSender<(String, Value)>,
) -> impl tower::Service<
    Request<Bytes>,
    Response = Response<()>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |request: Request<Bytes>| {
        let body: Value = serde_json::from_slice(request.body()).unwrap();
        let _ = arrived.send((request.uri().to_string(), body));
        async { Ok(Response::new(())) }
    })
}

#[tokio::test]
async fn a_projects_quota_alerts_reach_only_its_own_endpoints_and_the_operator_wide_ones() {
    let config = Config::from_toml(
        r#"
environment = "development"

[[projects]]
id = "proj_a"
adds_per_month = 100
queries_per_month = 100

[[projects]]
id = "proj_b"
adds_per_month = 100
queries_per_month = 100

[[webhooks]]
url = "http://tenant-a.example/hook"
secret_env = "A_SECRET"
events = ["quota.threshold"]
projects = ["proj_a"]

[[webhooks]]
url = "http://tenant-b.example/hook"
secret_env = "B_SECRET"
events = ["quota.threshold"]
projects = ["proj_b"]

[[webhooks]]
url = "http://operator.example/hook"
secret_env = "OPS_SECRET"
events = ["quota.threshold"]
"#,
    )
    .unwrap();
    let endpoints = config
        .webhooks
        .iter()
        .map(|hook| {
            Endpoint::new(
                hook.url.clone(),
                WebhookSecret::generate().unwrap(),
                hook.events.clone(),
            )
            .with_projects(hook.projects.clone())
        })
        .collect();
    let (arrived, mut arrivals) = mpsc::unbounded_channel();
    let transport = recording_transport(arrived);
    let settings = WebhookSettings::new(endpoints, Environment::Development);
    let hooks = Webhooks::start(MemoryWebhookQueue::new(), transport, settings).unwrap();
    let sink = hooks.quota_alert_sink();
    sink(&alert("proj_a"));
    sink(&alert("proj_b"));

    let mut received = Vec::new();
    for _ in 0..4 {
        let (url, body) = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
            .await
            .expect("four deliveries in time")
            .unwrap();
        received.push((url, body["data"]["project"].as_str().unwrap().to_owned()));
    }
    assert!(
        hooks.shutdown(Duration::from_secs(1)).await.is_empty(),
        "the queue took every event"
    );
    assert!(arrivals.try_recv().is_err(), "a fifth delivery");
    received.sort();
    let pairs: Vec<(&str, &str)> = received
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("http://operator.example/hook", "proj_a"),
            ("http://operator.example/hook", "proj_b"),
            ("http://tenant-a.example/hook", "proj_a"),
            ("http://tenant-b.example/hook", "proj_b"),
        ]
    );
    assert_eq!(hooks.stats().published, 4);
}

#[test]
fn webhook_projects_must_name_defined_projects_and_not_be_empty() {
    let base = "environment = \"development\"\n\
        [[projects]]\nid = \"proj_a\"\nadds_per_month = 1\nqueries_per_month = 1\n\
        [[webhooks]]\nurl = \"https://h.example/\"\nsecret_env = \"S\"\nevents = [\"quota.threshold\"]\n";
    let error = Config::from_toml(&format!("{base}projects = [\"proj_z\"]\n")).unwrap_err();
    assert_eq!(error.line(), Some(10), "{error}");
    assert!(error.to_string().contains("proj_z"), "{error}");
    let error = Config::from_toml(&format!("{base}projects = []\n")).unwrap_err();
    assert_eq!(error.line(), Some(10), "{error}");
    let config = Config::from_toml(base).unwrap();
    assert!(config.webhooks[0].projects.is_empty());
}

#[test]
fn secret_env_takes_one_variable_or_a_list_of_them_for_rotation() {
    let with = |secret_env: &str| {
        Config::from_toml(&format!(
            "environment = \"development\"\n\
             [[webhooks]]\nurl = \"https://h.example/\"\nsecret_env = {secret_env}\nevents = [\"webhook.test\"]\n"
        ))
    };
    assert_eq!(with("\"ONE\"").unwrap().webhooks[0].secret_env, ["ONE"]);
    assert_eq!(
        with("[\"NEW\", \"OLD\"]").unwrap().webhooks[0].secret_env,
        ["NEW", "OLD"]
    );
    for bad in ["[]", "[\"A\", \"A\"]", "[\"A=B\"]", "\"\"", "3", "[1]"] {
        let error = with(bad).map(|c| c.webhooks).expect_err(bad);
        assert_eq!(error.line(), Some(4), "{bad}: {error}");
    }
}

#[test]
fn the_retry_schedule_is_the_operators_and_defaults_to_standard_webhooks() {
    let secs = Duration::from_secs;
    let config = Config::from_toml("environment = \"development\"\n").unwrap();
    assert_eq!(
        config.webhooks_retry.schedule,
        [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000].map(secs)
    );
    let config = Config::from_toml(
        "environment = \"development\"\n[webhooks_retry]\nschedule = [\"0s\", \"250ms\", \"5m\", \"2h\"]\n",
    )
    .unwrap();
    assert_eq!(
        config.webhooks_retry.schedule,
        [secs(0), Duration::from_millis(250), secs(300), secs(7_200)]
    );
    for bad in [
        "[]",
        "[\"5\"]",
        "[\"0s\", \"8d\"]",
        "[\"-1s\"]",
        "[\"1 h\"]",
    ] {
        let error = Config::from_toml(&format!(
            "environment = \"development\"\n[webhooks_retry]\nschedule = {bad}\n"
        ))
        .unwrap_err();
        assert_eq!(error.line(), Some(3), "{bad}: {error}");
    }
}
