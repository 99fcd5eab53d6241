//! `Deployment::start` on `store.backend = "redis"`: the shared stores, this instance's audit
//! stream, and the Redis check on `/health`. The deployment keeps its keys under the default
//! prefix, so the test runs on a `redis-server` of its own.

use std::time::Duration;

use http::Request;
use memorysync_pipeline::Environment;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, StartError};
use memorysync_pipeline::key::{ApiKey, KeyStore};
use tower::ServiceExt;

use crate::common::redis::RedisServer;

async fn health_of(deployment: &Deployment) -> serde_json::Value {
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
