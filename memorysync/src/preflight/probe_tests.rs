//! The network items against real peers on loopback: a closed port for Redis (and real Redis
//! when `MEMORYSYNC_TEST_REDIS_URL` is set), the crate's own health route served by axum.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use memorysync_pipeline::health::{CheckStatus, HealthRouteLayer, check_fn};

use super::checks::Outcome;
use super::probes::health_ok;
use super::tests::{SECRET_VAR, assert_only_failure, edit, good_file, run, webhook_secret};

/// A loopback port that nothing listens on: bound, then released.
pub(crate) fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The good file with `[store]` on Redis at `url`.
pub(crate) fn on_redis(url: &str) -> String {
    let store = format!("[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n");
    edit(
        &good_file(),
        "[store]\nbackend = \"embedded\"\npath = \"state\"\n",
        &store,
    )
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn unreachable_redis_fails_alone() {
    let text = on_redis(&format!("redis://127.0.0.1:{}", closed_port()));
    let (items, _) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "redis-reachable");
    assert!(line.contains("Redis unreachable"), "{line}");
}

/// A binary built without Redis could not serve this config: the item fails and says why.
#[cfg(not(feature = "redis"))]
#[tokio::test]
async fn without_the_redis_feature_a_redis_store_fails_alone() {
    let text = on_redis(&format!("redis://127.0.0.1:{}", closed_port()));
    let (items, _) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "redis-reachable");
    assert!(line.contains("without the redis feature"), "{line}");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn reachable_redis_passes() {
    // A server of the test's own, durable as production wants it: the shared test Redis need
    // not keep an append-only file.
    let Some(redis) = crate::test_redis::RedisServer::start_durable() else {
        return;
    };
    redis.until_answers().await;
    let (items, report) = run(
        &on_redis(&redis.url()),
        &[],
        &[(SECRET_VAR, &webhook_secret())],
    )
    .await;
    assert_eq!(super::exit_code(&items), 0, "{report}");
    assert!(report.contains("pass redis-reachable\n"), "{report}");
    assert!(report.contains("pass redis-appendonly\n"), "{report}");
    assert!(report.contains("pass redis-noeviction\n"), "{report}");
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cluster_passes_and_one_whose_master_lost_its_replica_fails_naming_it() {
    let Some(mut cluster) = crate::test_cluster::RedisCluster::start().await else {
        return;
    };
    let store = format!(
        "[store]\nbackend = \"redis\"\nredis_url = {}\n",
        cluster.toml_seeds()
    );
    let text = edit(
        &good_file(),
        "[store]\nbackend = \"embedded\"\npath = \"state\"\n",
        &store,
    );
    let env = [(SECRET_VAR, webhook_secret())];
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (_, report) = run(&text, &[], &env).await;
    assert!(report.contains("pass redis-reachable\n"), "{report}");
    assert!(report.contains("pass redis-cluster\n"), "{report}");
    // The test's nodes keep no append-only file: each master is asked, and named.
    assert!(
        report.contains("fail redis-appendonly: master 127.0.0.1:"),
        "{report}"
    );

    let replica = cluster.replicas()[0];
    cluster.kill(replica);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, report) = run(&text, &[], &env).await;
        if report.contains("fail redis-cluster: no live replica for master 127.0.0.1:") {
            assert!(report.contains("pass redis-reachable\n"), "{report}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Serves the crate's health route, with `checks` registered, in front of an empty app.
async fn serve_health(layer: HealthRouteLayer) -> String {
    let app = Router::new()
        .route("/", get(|| async { "app" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_healthy_instance_passes_the_url_item() {
    let url = serve_health(HealthRouteLayer::new()).await;
    // A trailing slash on --url is tolerated.
    let with_slash = format!("{url}/");
    let secret = webhook_secret();
    let (items, report) = run(
        &good_file(),
        &["--url", &with_slash],
        &[(SECRET_VAR, &secret)],
    )
    .await;
    assert_eq!(super::exit_code(&items), 0, "{report}");
    assert!(report.contains("pass health-ok\n"), "{report}");
}

#[tokio::test]
async fn a_degraded_instance_fails_the_url_item_alone() {
    let degraded = check_fn("redis", || async {
        CheckStatus::Degraded("unreachable".into())
    });
    let url = serve_health(HealthRouteLayer::new().with_check(degraded)).await;
    let (items, _) = run(
        &good_file(),
        &["--url", &url],
        &[(SECRET_VAR, &webhook_secret())],
    )
    .await;
    let line = assert_only_failure(&items, "health-ok");
    assert!(
        line.contains("degraded") && line.contains("redis"),
        "{line}"
    );
}

#[tokio::test]
async fn no_health_route_or_no_server_fails() {
    // An app without the health route: /health is a 404.
    let app = Router::new().route("/", get(|| async { "app" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let timeout = Duration::from_secs(5);
    let Outcome::Fail(why) = health_ok(Some(&url), timeout).await else {
        panic!("a 404 passed");
    };
    assert!(why.contains("404"), "{why}");

    let closed = format!("http://127.0.0.1:{}", closed_port());
    let Outcome::Fail(why) = health_ok(Some(&closed), timeout).await else {
        panic!("a closed port passed");
    };
    assert!(why.starts_with("no answer"), "{why}");
}
