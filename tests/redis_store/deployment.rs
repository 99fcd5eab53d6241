//! `Deployment::start` on `store.backend = "redis"`: the shared stores, this instance's audit
//! stream, and the Redis check on `/health`; webhook events a killed Redis never took, kept in a
//! fallback file by the shutdown. The deployment keeps its keys under the default prefix, so
//! each test runs on a `redis-server` of its own.

use std::time::Duration;

use http::Request;
use memorysync_pipeline::Environment;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, StartError};
use memorysync_pipeline::key::{ApiKey, KeyStore};
use tower::ServiceExt;

use crate::common::redis::RedisServer;

/// The `/health` report of `deployment`, through its own layer.
pub(crate) async fn health_of(deployment: &Deployment) -> serde_json::Value {
    let app = deployment
        .layer()
        .around(tower::service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    let response = app
        .oneshot(Request::get("/health").body(String::new()).unwrap())
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap();
    serde_json::from_slice(&body.to_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_on_redis_needs_an_instance_name_and_reports_redis_on_health() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let key = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [store]\nbackend = \"redis\"\nredis_url = \"{}\"\non_store_error = \"deny\"\n\
         [[projects]]\nid = \"proj_a\"\nadds_per_month = 3\nqueries_per_month = 10\n\
         [[keys]]\nid = \"key_a\"\nsha256 = \"{}\"\nproject = \"proj_a\"\nenvironment = \"development\"\nrps = 5\nrpm = 50\n",
        redis.url(),
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();

    // The audit stream is per instance, and Redis has no place to keep a generated name.
    let error = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Instance(_)), "{error:?}");

    let deployment = Deployment::start(&config, DeploymentOptions::new().with_instance("node-a"))
        .await
        .unwrap();
    assert_eq!(health_of(&deployment).await["status"], "ok");
    // The config's key was loaded into Redis.
    let usage = deployment.keys().usage("key_a").await.unwrap();
    assert_eq!(usage.request_count, 0);

    redis.kill();
    let health = health_of(&deployment).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["checks"].get("redis").is_some(), "{health}");
    redis.restart();
    redis.until_answers().await;
    let report = deployment.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_ok(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_redis_never_takes_are_kept_in_a_file_at_shutdown() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let state = tempfile::tempdir().unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [store]\nbackend = \"redis\"\nredis_url = \"{}\"\n\
         [audit]\ndir = \"{}\"\n\
         [[projects]]\nid = \"proj_a\"\nadds_per_month = 100\nqueries_per_month = 100\n\
         [[webhooks]]\nurl = \"http://127.0.0.1:9/hook\"\nsecret_env = \"HOOK_SECRET\"\n\
         events = [\"quota.threshold\"]\n",
        redis.url(),
        state.path().join("audit").display()
    );
    let config = Config::from_toml(&text).unwrap();
    let secret = memorysync_pipeline::webhook::WebhookSecret::generate()
        .unwrap()
        .expose();
    let options = DeploymentOptions::new()
        .with_instance("node-a")
        .with_secret_source(move |_: &str| Some(secret.clone()));
    let deployment = Deployment::start(&config, options).await.unwrap();
    let webhooks = deployment.webhooks().unwrap();

    redis.kill();
    let alerts = webhooks.quota_alert_sink();
    for used in 75..78 {
        alerts(&memorysync_pipeline::quota::QuotaAlert {
            project: "proj_a".into(),
            operation: memorysync_pipeline::quota::Operation::Add,
            month: memorysync_pipeline::quota::Month::new(2027, 1).unwrap(),
            threshold: 75,
            used,
            limit: 100,
        });
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while webhooks.stats().refused == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never refused"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let health = health_of(&deployment).await;
    let check = health["checks"]["webhooks"].as_str().unwrap_or_default();
    assert!(check.contains("3 events waiting for the queue"), "{health}");

    let report = deployment.shutdown(Duration::from_secs(2)).await.unwrap();
    let stats = report.webhooks.unwrap();
    assert_eq!((stats.published, stats.backlog), (0, 0), "{stats:?}");
    assert_eq!(report.lost_webhooks, 0);
    let (count, path) = report.unqueued_webhooks.expect("a fallback file");
    assert_eq!(count, 3);
    assert_eq!(
        path.parent(),
        Some(state.path()),
        "beside the audit directory"
    );
    let kept: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let used: Vec<u64> = kept
        .iter()
        .map(|line| line["body"]["data"]["used"].as_u64().unwrap())
        .collect();
    assert_eq!(used, [75, 76, 77], "every event, oldest first");
    assert!(kept.iter().all(|line| {
        line["url"] == "http://127.0.0.1:9/hook"
            && line["event_type"] == "quota.threshold"
            && line["webhook_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("msg_"))
    }));
}
