//! `memorysync serve` on a Redis that loses its data (`FLUSHALL` on a `redis-server` of the
//! test's own): the running process refuses under `deny` and reports `data_lost` on `/health`,
//! a process started after the loss seeds nothing, and `memorysync store reseed` run as a
//! process brings every key of the file back on both, without a restart.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use memorysync_pipeline::Environment;
use memorysync_pipeline::key::ApiKey;
use tokio::process::Command;

use crate::client::Running;
use crate::process::{BIN, ServerProcess};
use crate::test_redis::RedisServer;

fn config(url: &str, used: &ApiKey, unused: &ApiKey) -> String {
    let key = |id: &str, key: &ApiKey| {
        format!(
            "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"proj_a\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n",
            key.hash().to_hex()
        )
    };
    [
        format!(
            "environment = \"development\"\n[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\non_store_error = \"deny\"\n"
        ),
        "[[projects]]\nid = \"proj_a\"\nadds_per_month = 100\nqueries_per_month = 1000\n".into(),
        key("key_used", used),
        key("key_unused", unused),
    ]
    .concat()
}

/// The status and problem code of `GET /v1/memories` with `key`.
async fn list(server: &Running, key: &ApiKey) -> (u16, String) {
    let auth = format!("Bearer {}", key.expose_secret());
    let headers = [("authorization", auth.as_str()), ("x-project-id", "proj_a")];
    let (status, body) = server.send("GET", "/v1/memories", &headers, "").await;
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// `ok`, or the `redis` check of a degraded report.
async fn health(server: &Running) -> String {
    let (status, report) = server.send("GET", "/health", &[], "").await;
    assert_eq!(status, 200, "{report}");
    match report["status"].as_str() {
        Some("ok") => "ok".into(),
        _ => format!("redis: {}", report["checks"]["redis"]),
    }
}

/// Asks until `key` is admitted, for at most ten seconds.
async fn until_admitted(server: &Running, key: &ApiKey) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = list(server, key).await;
        if answer.0 == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "still {answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_redis_is_reported_and_refused_until_store_reseed_brings_the_keys_back() {
    let Some(redis_server) = RedisServer::start() else {
        return;
    };
    redis_server.until_answers().await;
    let url = redis_server.url();
    let (used, unused) = (
        ApiKey::generate(Environment::Development).unwrap(),
        ApiKey::generate(Environment::Development).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memorysync.toml");
    std::fs::write(&path, config(&url, &used, &unused)).unwrap();

    let first = ServerProcess::start(&path, "first", &[]).await;
    let a = Running::at(first.addr);
    assert_eq!(list(&a, &used).await, (200, String::new()));
    assert_eq!(health(&a).await, "ok");

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut db = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut db).await.unwrap();

    let lost = r#"redis: "data_lost""#;
    assert_eq!(list(&a, &used).await, (503, "store_unavailable".into()));
    assert_eq!(health(&a).await, lost);

    // Started after the loss: it seeds nothing and refuses too.
    let second = ServerProcess::start(&path, "second", &[]).await;
    let b = Running::at(second.addr);
    assert_eq!(health(&b).await, lost);
    assert_eq!(list(&b, &unused).await, (503, "store_unavailable".into()));
    let epoch: Option<String> = redis::cmd("HGET")
        .arg("memorysync:epoch")
        .arg("id")
        .query_async(&mut db)
        .await
        .unwrap();
    assert_eq!(epoch, None, "no epoch seeded over the loss");

    let reseed = Command::new(BIN)
        .args(["store", "reseed", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(reseed.stdout).unwrap();
    assert!(
        reseed.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&reseed.stderr)
    );
    assert!(stdout.starts_with("reseeded: epoch "), "{stdout}");
    assert!(
        stdout.contains("before: a data loss reported at "),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("keys (config_version 0): 2 written back, 0 replaced, 0 revoked, 0 refused"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not restored (only Redis held them)"),
        "{stdout}"
    );

    for server in [&a, &b] {
        until_admitted(server, &used).await;
        until_admitted(server, &unused).await;
        assert_eq!(health(server).await, "ok");
    }
    for process in [first, second] {
        let (status, _) = process.terminate().await;
        assert!(status.success(), "{status}");
    }
}
