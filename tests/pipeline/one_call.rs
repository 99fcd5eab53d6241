//! `Deployment::start`: one call from a config to the running pipeline, with every field of the
//! config applied and nothing left for the caller to remember.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use http::Request;
use memorysync_pipeline::audit::INSTANCE_FILE;
use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{
    Deployment, DeploymentOptions, DeploymentTombstones, StartError,
};
use memorysync_pipeline::key::{ApiKey, KeyStore};
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{Month, Operation, QuotaAlert};
use memorysync_pipeline::tombstone::{TombstoneKind, TombstoneStore};
use memorysync_pipeline::{ClientAddr, Environment};

use crate::common::{PROJECT, T0, assert_problem, send};

/// A config for `key` in `environment`: two adds a month, trusted proxies in 10.0.0.0/8, then
/// `tables` (which must start with a table header).
fn config(key: &ApiKey, environment: &str, tables: &str) -> Config {
    let text = format!(
        "environment = \"{environment}\"\n\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 2\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_demo\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"{environment}\"\nrps = 100\nrpm = 1000\n\
         [health]\ntrusted_proxies = [\"10.0.0.0/8\"]\n{tables}",
        key.hash().to_hex()
    );
    Config::from_toml(&text).unwrap()
}

fn development_key() -> ApiKey {
    ApiKey::generate(Environment::Development).unwrap()
}

/// The memory API's add route and a route that reports whether the tombstones reached it.
fn api() -> Router {
    Router::new()
        .route(
            "/v1/memories",
            post(|| async { r#"{"results":[{"id":"m"}]}"# }),
        )
        .route(
            "/tombstones",
            get(
                |tombstones: Option<axum::Extension<DeploymentTombstones>>| async move {
                    if tombstones.is_some() {
                        "present"
                    } else {
                        "absent"
                    }
                },
            ),
        )
}

/// `method path` with `key`, from the peer 10.1.2.3 (a trusted proxy) forwarding 203.0.113.9.
fn keyed(method: &str, path: &str, key: &ApiKey) -> Request<axum::body::Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", key.expose_secret()))
        .header("x-project-id", PROJECT)
        .header("x-forwarded-for", "203.0.113.9")
        .body(axum::body::Body::from(r#"{"text":"a"}"#))
        .unwrap();
    request
        .extensions_mut()
        .insert(ClientAddr(([10, 1, 2, 3], 40000).into()));
    request
}

#[tokio::test]
async fn every_field_of_the_config_reaches_its_stage() {
    let state = tempfile::tempdir().unwrap();
    let audit_dir = state.path().join("audit");
    let key = development_key();
    let tables = format!("[audit]\ndir = \"{}\"\n", audit_dir.display());
    let config = config(&key, "development", &tables);
    let alerts = Arc::new(Mutex::new(Vec::<u8>::new()));
    let seen = Arc::clone(&alerts);
    let clock = ManualClock::new(T0);
    let options = DeploymentOptions::new()
        .with_clock(clock.clone())
        .with_alerts(move |alert: &QuotaAlert| seen.lock().unwrap().push(alert.threshold));
    let deployment = Deployment::start(&config, options).await.unwrap();
    let app = deployment.layer().around(api());

    // Quotas from [[projects]]: two adds, then the silent degrade; the alerts reach the option.
    for _ in 0..2 {
        let reply = send(app.clone(), keyed("POST", "/v1/memories", &key)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(reply.text().contains("\"m\""), "{}", reply.text());
    }
    let degraded = send(app.clone(), keyed("POST", "/v1/memories", &key)).await;
    assert_eq!(degraded.status, 200);
    assert_eq!(degraded.json()["results"], serde_json::json!([]));
    assert_eq!(*alerts.lock().unwrap(), [75, 90, 100]);
    let month = Month::of(clock.now());
    let usage = deployment
        .quota_usage(PROJECT, Operation::Add, month)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((usage.used, usage.limit), (2, 2));

    // The rate limits of [[keys]] are in force: the headers say 100 a second.
    assert!(
        degraded.header("ratelimit-policy").contains("100"),
        "{degraded:?}"
    );

    // The health route, with the audit log's check registered.
    let health = send(
        app.clone(),
        Request::get("/health").body(String::new()).unwrap(),
    )
    .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    // One tombstone set: a revocation through the key store is seen in the deployment's set,
    // and the same set is in every request's extensions.
    let present = send(app.clone(), keyed("GET", "/tombstones", &key)).await;
    assert_eq!(present.text(), "present");
    deployment.keys().revoke("key_demo", T0).await.unwrap();
    assert!(
        deployment
            .tombstones()
            .contains(TombstoneKind::ApiKeyId, "key_demo", clock.now())
            .await
            .unwrap()
    );
    let revoked = send(app.clone(), keyed("GET", "/tombstones", &key)).await;
    assert_problem(&revoked, 401, "revoked_api_key");

    // The audit log: this process's chain in the configured directory, the start's
    // reconciliation of the config first, then every call, the client address read through
    // the trusted proxy.
    let instance = deployment.instance().to_owned();
    let kept = std::fs::read_to_string(audit_dir.join(INSTANCE_FILE)).unwrap();
    assert_eq!(kept.trim(), instance);
    let report = deployment.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(report.audit.written, 6, "{report:?}");
    assert_eq!(report.unwritten, None);
    let mut lines = audit_lines(&audit_dir);
    assert_eq!(lines.len(), 6, "{lines:?}");
    lines.sort_by_key(|line| {
        serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"].as_u64()
    });
    assert!(lines[0].contains(r#""method":"RECONCILE""#), "{}", lines[0]);
    let calls = &lines[1..];
    assert!(
        calls.iter().all(|line| line.contains("203.0.113.9")),
        "the audit stage did not get the trusted proxies: {lines:?}"
    );
}

fn audit_lines(dir: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    lines
}

#[tokio::test]
async fn a_production_deployment_refuses_a_development_key_its_config_holds() {
    let key = development_key();
    // The key's own entry says development; the deployment is production.
    let text = format!(
        "environment = \"production\"\n\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 2\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_demo\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"development\"\nrps = 1\nrpm = 1\n",
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let deployment = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap();
    let reply = send(
        deployment.layer().around(api()),
        keyed("POST", "/v1/memories", &key),
    )
    .await;
    assert_problem(&reply, 401, "invalid_api_key");
}

#[tokio::test]
async fn the_default_windows_of_limits_reach_the_limit_stage_and_a_key_own_window_wins() {
    let key = development_key();
    let own = development_key();
    let tables = format!(
        "[limits]\nrps_window = \"2s\"\nrpm_window = \"5m\"\n\
         [[keys]]\nid = \"key_own\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\nrps_window = \"10s\"\n",
        own.hash().to_hex()
    );
    let deployment = Deployment::start(
        &config(&key, "development", &tables),
        DeploymentOptions::new(),
    )
    .await
    .unwrap();
    let app = deployment.layer().around(api());
    let policy = |reply: &crate::common::Reply| reply.header("ratelimit-policy").to_owned();
    // 100 a second over 2 s, 1,000 a minute over 5 minutes.
    let defaults = send(app.clone(), keyed("POST", "/v1/memories", &key)).await;
    assert_eq!(policy(&defaults), r#""rps";q=200;w=2, "rpm";q=5000;w=300"#);
    let overridden = send(app, keyed("POST", "/v1/memories", &own)).await;
    assert_eq!(
        policy(&overridden),
        r#""rps";q=1000;w=10, "rpm";q=5000;w=300"#
    );
}

#[tokio::test]
async fn quota_routes_of_the_config_meter_any_path_and_a_classifier_option_replaces_them() {
    let key = development_key();
    let routes =
        "[[quota.routes]]\nmethod = \"POST\"\npath = \"/v2/notes/*\"\noperation = \"add\"\n";
    let config = config(&key, "development", routes);
    let notes = || Router::new().route("/v2/notes/{id}", post(|| async { "stored" }));
    let deployment = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap();
    let app = deployment.layer().around(notes());
    let answers: Vec<String> = {
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(
                send(app.clone(), keyed("POST", "/v2/notes/n1", &key))
                    .await
                    .text()
                    .to_owned(),
            );
        }
        answers
    };
    assert_eq!(answers[..2], ["stored", "stored"]);
    assert_ne!(answers[2], "stored", "the third add went past the plan");

    // A classifier from the options: nothing is metered, the routes of the file are ignored.
    let options = DeploymentOptions::new().with_classifier(|_: &http::Method, _: &str| None);
    let deployment = Deployment::start(&config, options).await.unwrap();
    let app = deployment.layer().around(notes());
    for _ in 0..3 {
        let reply = send(app.clone(), keyed("POST", "/v2/notes/n1", &key)).await;
        assert_eq!(reply.text(), "stored");
    }
}

#[tokio::test]
async fn the_stages_one_by_one_take_a_layer_between_them_and_keep_their_behaviour() {
    let key = development_key();
    let deployment = Deployment::start(&config(&key, "development", ""), DeploymentOptions::new())
        .await
        .unwrap();
    let stages = deployment.stages();
    let layer = PipelineBuilder::new()
        .stage(stages.health)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .stage(stages.audit)
        .stage(stages.auth)
        .stage(stages.scope)
        .stage(stages.limit)
        .stage(stages.quota)
        .into_layer();
    let app = layer.around(api());
    let missing = send(
        app.clone(),
        Request::post("/v1/memories").body(String::new()).unwrap(),
    )
    .await;
    assert_problem(&missing, 401, "missing_api_key");
    let stored = send(app, keyed("POST", "/v1/memories", &key)).await;
    assert_eq!(stored.status, 200);
    // The stages share their stores with the deployment: the key's use is counted there.
    let usage = deployment.keys().usage("key_demo").await.unwrap();
    assert_eq!(usage.request_count, 1);
}

#[tokio::test]
async fn a_webhook_secret_that_is_not_set_is_a_startup_error_naming_the_variable_only() {
    let key = development_key();
    let hooks = "[[webhooks]]\nurl = \"https://hooks.example.com/in\"\nsecret_env = \"HOOK_SECRET\"\nevents = [\"quota.exhausted\"]\n";
    let config = config(&key, "development", hooks);
    let none = DeploymentOptions::new().with_secret_source(|_: &str| None);
    let error = Deployment::start(&config, none).await.unwrap_err();
    assert!(matches!(error, StartError::Webhooks(_)), "{error:?}");
    assert!(error.to_string().contains("HOOK_SECRET"), "{error}");

    let malformed = "whsec_not-base64-at-all!";
    let bad = DeploymentOptions::new().with_secret_source(move |_: &str| Some(malformed.into()));
    let error = Deployment::start(&config, bad).await.unwrap_err();
    assert!(
        !error.to_string().contains("not-base64"),
        "the secret leaked: {error}"
    );

    let secret = memorysync_pipeline::webhook::WebhookSecret::generate()
        .unwrap()
        .expose();
    let good = DeploymentOptions::new().with_secret_source(move |_: &str| Some(secret.clone()));
    let deployment = Deployment::start(&config, good).await.unwrap();
    let app = deployment.layer().around(api());
    for _ in 0..3 {
        send(app.clone(), keyed("POST", "/v1/memories", &key)).await;
    }
    // The plan's exhaustion went out as a webhook event, with no alert option given.
    let stats = deployment.webhooks().unwrap().stats();
    assert_eq!(stats.published + stats.backlog, 1, "{stats:?}");
    let report = deployment
        .shutdown(Duration::from_millis(200))
        .await
        .unwrap();
    let stats = report.webhooks.unwrap();
    assert_eq!((stats.published, stats.backlog), (1, 0), "{stats:?}");
    assert_eq!(report.unqueued_webhooks, None);
}

#[tokio::test]
async fn a_second_deployment_on_one_audit_dir_is_refused_while_the_first_runs() {
    let state = tempfile::tempdir().unwrap();
    let key = development_key();
    let tables = format!("[audit]\ndir = \"{}\"\n", state.path().display());
    let config = config(&key, "development", &tables);
    let first = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap();
    let error = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Audit(_)), "{error:?}");
    let name = first.instance().to_owned();
    first.shutdown(Duration::from_secs(5)).await.unwrap();
    let again = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap();
    assert_eq!(again.instance(), name, "a restart continues the chain");
}

#[cfg(not(feature = "redis"))]
#[tokio::test]
async fn a_redis_store_without_the_feature_is_refused_by_name() {
    let key = development_key();
    let text = "[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6379\"\n[server]\ninstance = \"a\"\n";
    let error = Deployment::start(&config(&key, "development", text), DeploymentOptions::new())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("`redis` feature"), "{error}");
}

#[tokio::test]
async fn a_health_check_of_the_application_joins_the_deployments_own() {
    use memorysync_pipeline::health::{CheckStatus, check_fn};
    let key = development_key();
    let down = check_fn("upstream", || async {
        CheckStatus::Degraded("not answering".into())
    });
    let options = DeploymentOptions::new().with_health_check(down);
    let deployment = Deployment::start(&config(&key, "development", ""), options)
        .await
        .unwrap();
    let health = send(
        deployment.layer().around(api()),
        Request::get("/health").body(String::new()).unwrap(),
    )
    .await;
    let report = health.json();
    assert_eq!(report["status"], "degraded", "{report}");
    assert_eq!(report["checks"]["upstream"], "not answering", "{report}");
}
