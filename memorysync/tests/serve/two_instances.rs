//! Two server processes sharing one Redis (`store.backend = "redis"`): one rate limit, one
//! quota, one usage count, tombstones and a webhook queue between them, each alert sent once,
//! and events queued by a process that is then killed delivered by the next process. The servers
//! keep their keys under the default prefix, so the test runs on a `redis-server` of its own
//! rather than on the shared test Redis.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::verify;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::redis_store::{
    RedisAuditSink, RedisConnection, RedisOptions, RedisTombstones,
};
use memorysync_pipeline::tombstone::{TombstoneKind, TombstoneStore};
use memorysync_pipeline::webhook::WebhookSecret;

use crate::client::Running;
use crate::process::ServerProcess;
use crate::receiver::Receiver;
use crate::test_redis::RedisServer;

async fn redis(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// The keys of the test: one per limit checked, so that the checks do not spend each other's.
struct Keys {
    per_second: ApiKey,
    per_minute: ApiKey,
    adds: ApiKey,
    other_project: ApiKey,
}

fn config(url: &str, hook: &str, keys: &Keys) -> String {
    let key = |id: &str, key: &ApiKey, project: &str, limits: &str| {
        format!(
            "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"{project}\"\nenvironment = \"development\"\n{limits}\n",
            key.hash().to_hex()
        )
    };
    [
        format!("environment = \"development\"\n[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n"),
        "[[projects]]\nid = \"proj_a\"\nadds_per_month = 3\nqueries_per_month = 1000\n".into(),
        "[[projects]]\nid = \"proj_b\"\nadds_per_month = 1\nqueries_per_month = 1000\n".into(),
        key("key_rps", &keys.per_second, "proj_a", "rps = 5\nrpm = 1000"),
        key("key_rpm", &keys.per_minute, "proj_a", "rps = 100\nrpm = 8"),
        key("key_adds", &keys.adds, "proj_a", "rps = 100\nrpm = 1000"),
        key("key_b", &keys.other_project, "proj_b", "rps = 100\nrpm = 1000"),
        format!("[[webhooks]]\nurl = \"{hook}\"\nsecret_env = \"HOOK_SECRET\"\nevents = [\"quota.threshold\", \"quota.exhausted\"]\n"),
    ]
    .concat()
}

/// The statuses of `count` requests sent alternately to `servers`.
async fn alternate(servers: &[Running; 2], key: &ApiKey, project: &str, count: usize) -> Vec<u16> {
    let auth = format!("Bearer {}", key.expose_secret());
    let headers = [("authorization", auth.as_str()), ("x-project-id", project)];
    let mut statuses = Vec::new();
    for n in 0..count {
        statuses.push(
            servers[n % 2]
                .send("GET", "/v1/memories", &headers, "")
                .await
                .0,
        );
    }
    statuses
}

/// Waits until the shared webhook queue holds `count` deliveries not yet finished: a bounded
/// poll, since another process moves them.
async fn until_queued(db: &mut redis::aio::MultiplexedConnection, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let queued: usize = redis::cmd("HLEN")
            .arg("memorysync:webhook:deliveries")
            .query_async(db)
            .await
            .unwrap();
        if queued == count {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{queued} deliveries queued, not {count}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_limits_quotas_usage_tombstones_audit_and_the_webhook_queue() {
    let Some(redis_server) = RedisServer::start() else {
        return;
    };
    redis_server.until_answers().await;
    let url = redis_server.url();
    let mut db = redis(&url).await;
    let receiver = Receiver::default();
    let hook = receiver.serve().await;
    let keys = Keys {
        per_second: ApiKey::generate(Environment::Development).unwrap(),
        per_minute: ApiKey::generate(Environment::Development).unwrap(),
        adds: ApiKey::generate(Environment::Development).unwrap(),
        other_project: ApiKey::generate(Environment::Development).unwrap(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memorysync.toml");
    std::fs::write(&path, config(&url, &hook, &keys)).unwrap();
    let secret = WebhookSecret::generate().unwrap().expose();
    let env = [("HOOK_SECRET", secret.as_str())];
    let a = ServerProcess::start(&path, "a", &env).await;
    let b = ServerProcess::start(&path, "b", &env).await;
    let servers = [Running::at(a.addr), Running::at(b.addr)];

    // 8 a minute, across both processes together.
    let per_minute = alternate(&servers, &keys.per_minute, "proj_a", 12).await;
    assert_eq!(per_minute, [[200; 8].as_slice(), &[429; 4]].concat());

    // 5 a second, across both: a second is long enough for eight requests on loopback, and if
    // this machine is too slow for that, more than five may pass, but never all eight.
    let started = std::time::Instant::now();
    let per_second = alternate(&servers, &keys.per_second, "proj_a", 8).await;
    if started.elapsed() < Duration::from_secs(1) {
        assert_eq!(per_second, [200, 200, 200, 200, 200, 429, 429, 429]);
    } else {
        println!("eight requests took over a second; checking only that some were refused");
        assert!(per_second.contains(&429), "{per_second:?}");
    }

    // Three adds a month for proj_a, across both; each alert once.
    let auth = format!("Bearer {}", keys.adds.expose_secret());
    let headers = [("authorization", auth.as_str()), ("x-project-id", "proj_a")];
    let mut stored = Vec::new();
    for n in 0..6 {
        let body = format!(r#"{{"text":"memory {n}"}}"#);
        let (status, answer) = servers[n % 2]
            .send("POST", "/v1/memories", &headers, &body)
            .await;
        assert_eq!(status, 200);
        stored.extend(
            answer["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].clone()),
        );
    }
    assert_eq!(stored.len(), 3, "the quota held across both processes");
    receiver
        .until(Duration::from_secs(20), |arrived| arrived.len() >= 3)
        .await;
    let mut thresholds: Vec<u64> = receiver
        .arrivals()
        .iter()
        .map(|a| a.event["data"]["threshold"].as_u64().unwrap())
        .collect();
    thresholds.sort_unstable();
    assert_eq!(
        thresholds,
        [75, 90, 100],
        "each alert once across both processes"
    );

    // A memory deleted on the instance that holds it leaves a tombstone every instance sees.
    let deleted = stored[0].as_str().unwrap();
    let path_of = format!("/v1/memories/{deleted}");
    let (status, _) = servers[0].send("DELETE", &path_of, &headers, "").await;
    assert_eq!(status, 200);
    let connection = RedisConnection::connect(&url, RedisOptions::default())
        .await
        .unwrap();
    let tombstones = RedisTombstones::new(connection, RedisTombstones::DEFAULT_KEEP_FOR);
    assert!(
        tombstones
            .contains(TombstoneKind::Memory, deleted, SystemClock.now())
            .await
            .unwrap()
    );

    // Usage: each process counted its own requests of `key_adds`; Redis has the sum.
    let count_key = format!("memorysync:key:hash:{}", keys.adds.hash().to_hex());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count: Option<u64> = redis::cmd("HGET")
            .arg(&count_key)
            .arg("count")
            .query_async(&mut db)
            .await
            .unwrap();
        // 6 adds and 1 delete, flushed by each process once a second.
        if count == Some(7) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "usage in Redis: {count:?}"
        );
        tokio::task::yield_now().await;
    }

    // Events queued by `a`, whose first attempt fails and which is killed meanwhile (the
    // attempt's outcome may not even be written back), are delivered by the next process.
    until_queued(&mut db, 0).await;
    receiver.failing.store(true, Ordering::SeqCst);
    let auth_b = format!("Bearer {}", keys.other_project.expose_secret());
    let headers_b = [
        ("authorization", auth_b.as_str()),
        ("x-project-id", "proj_b"),
    ];
    let (status, _) = servers[0]
        .send("POST", "/v1/memories", &headers_b, r#"{"text":"b"}"#)
        .await;
    assert_eq!(status, 200);
    receiver
        .until(Duration::from_secs(20), |arrived| {
            arrived.iter().any(|a| !a.accepted)
        })
        .await;
    let refused = receiver
        .arrivals()
        .into_iter()
        .find(|a| !a.accepted)
        .unwrap();
    assert_eq!(refused.event["data"]["project"], "proj_b");
    // An event is durable once the worker has moved it from the process into the shared
    // queue, a moment after the request; the kill comes after that (see the server's docs).
    until_queued(&mut db, 3).await;
    a.kill().await;
    receiver.failing.store(false, Ordering::SeqCst);
    let a = ServerProcess::start(&path, "a", &env).await;
    receiver
        .until(Duration::from_secs(30), |arrived| {
            let delivered = |threshold: u64| {
                arrived.iter().any(|a| {
                    a.accepted
                        && a.event["data"]["project"] == "proj_b"
                        && a.event["data"]["threshold"] == threshold
                })
            };
            delivered(75) && delivered(90) && delivered(100)
        })
        .await;
    assert!(
        receiver
            .arrivals()
            .iter()
            .any(|a| a.accepted && a.id == refused.id),
        "the refused event was delivered, with its id"
    );

    // Audit: one stream per instance, each a verified hash chain.
    for instance in ["a", "b"] {
        let sink = RedisAuditSink::open(&url, "memorysync:", Duration::from_secs(2))
            .unwrap()
            .with_stream(&format!("audit:{instance}"));
        let lines = sink.read_lines().unwrap();
        assert!(
            !lines.is_empty(),
            "instance {instance} wrote no audit events"
        );
        let verified = verify(lines.iter().map(String::as_str), None).unwrap();
        assert_eq!(verified, lines.len());
    }
    drop((a, b));
}
