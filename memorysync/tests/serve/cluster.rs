//! Two server processes on a Redis Cluster of the test's own (three masters, three replicas):
//! one rate limit and one quota across both; then a master killed under load. What the README
//! states for a failover is checked here: no 500, `/health` degraded and then ok again within
//! the stated time, a quota admitting at most the lost reservations of the replication lag more
//! than its plan (and none with `quota_replica_wait_ms`), and every webhook event that was in
//! the queue (and replicated) before the kill delivered.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use memorysync_pipeline::Environment;
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::webhook::WebhookSecret;
use tokio::sync::Mutex;

use crate::client::Running;
use crate::process::ServerProcess;
use crate::receiver::Receiver;
use crate::test_cluster::{NODE_TIMEOUT_MS, RedisCluster};

/// Requests sent at once while a master is killed.
const CONCURRENCY: usize = 6;

/// The plan of the project metered under load.
const PLAN: u64 = 300;

/// The bound the README states for `/health` to be `ok` again after a master dies: the
/// cluster's node timeout, the replica's election (at most about two seconds on a cluster of
/// three masters) and one probe.
fn health_bound() -> Duration {
    Duration::from_millis(NODE_TIMEOUT_MS) + Duration::from_secs(5)
}

/// What the test's projects and keys are called, and the keys themselves.
struct Tenants {
    limited: ApiKey,
    metered: ApiKey,
    /// The project metered under load, on the master that will be killed.
    load_project: String,
    load: ApiKey,
    /// Projects whose one add fires three alerts each.
    alerting: Vec<(String, ApiKey)>,
    /// A project, and the id of its key, whose counters and windows live on another master.
    elsewhere: (String, String),
    other: ApiKey,
}

fn key(id: &str, key: &ApiKey, project: &str, limits: &str) -> String {
    format!(
        "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"{project}\"\nenvironment = \"development\"\n{limits}\n",
        key.hash().to_hex()
    )
}

fn config(cluster: &RedisCluster, hook: &str, tenants: &Tenants, extra_store: &str) -> String {
    let mut text = vec![
        format!(
            "environment = \"development\"\n[store]\nbackend = \"redis\"\nredis_url = {}\n\
             on_store_error = \"deny\"\n{extra_store}\n",
            cluster.toml_seeds()
        ),
        "[[projects]]\nid = \"proj_shared\"\nadds_per_month = 3\nqueries_per_month = 1000\n".into(),
        format!(
            "[[projects]]\nid = \"{}\"\nadds_per_month = {PLAN}\nqueries_per_month = 10\n",
            tenants.load_project
        ),
        key(
            "key_rpm",
            &tenants.limited,
            "proj_shared",
            "rps = 100\nrpm = 8",
        ),
        key(
            "key_adds",
            &tenants.metered,
            "proj_shared",
            "rps = 100\nrpm = 1000",
        ),
        key(
            "key_load",
            &tenants.load,
            &tenants.load_project,
            "rps = 10000\nrpm = 100000",
        ),
        format!(
            "[[projects]]\nid = \"{}\"\nadds_per_month = 100000\nqueries_per_month = 10\n",
            tenants.elsewhere.0
        ),
        key(
            &tenants.elsewhere.1,
            &tenants.other,
            &tenants.elsewhere.0,
            "rps = 10000\nrpm = 100000",
        ),
        // A refused delivery is tried again every second for half a minute: it outlives the
        // failover, and arrives soon after the receiver accepts again.
        format!(
            "[[webhooks]]\nurl = \"{hook}\"\nsecret_env = \"HOOK_SECRET\"\n\
             events = [\"quota.threshold\", \"quota.exhausted\"]\n\
             [webhooks_retry]\nschedule = [\"0s\"{}]\n",
            ", \"1s\"".repeat(31)
        ),
    ];
    for (n, (project, api_key)) in tenants.alerting.iter().enumerate() {
        text.push(format!(
            "[[projects]]\nid = \"{project}\"\nadds_per_month = 1\nqueries_per_month = 10\n"
        ));
        text.push(key(
            &format!("key_alert_{n}"),
            api_key,
            project,
            "rps = 100\nrpm = 1000",
        ));
    }
    text.concat()
}

fn bearer(key: &ApiKey, project: &str) -> [(&'static str, String); 2] {
    [
        ("authorization", format!("Bearer {}", key.expose_secret())),
        ("x-project-id", project.to_owned()),
    ]
}

async fn send(server: &Running, method: &str, key: &ApiKey, project: &str) -> (u16, bool) {
    let headers = bearer(key, project);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, answer) = server
        .send(method, "/v1/memories", &headers, r#"{"text":"m"}"#)
        .await;
    let stored = answer["results"].as_array().is_some_and(|r| !r.is_empty());
    (status, stored)
}

/// The first `proj_<n>` whose counters live on the master on `port`.
fn project_on(cluster: &RedisCluster, port: u16, skip: usize) -> String {
    (0..)
        .map(|n| format!("proj_{n}"))
        .filter(|project| cluster.master_of(&format!("{{{project}}}")) == port)
        .nth(skip)
        .unwrap()
}

/// The first `<stem>_<n>` whose hash tag lives on another master than the one on `port`.
fn name_off(cluster: &RedisCluster, stem: &str, port: u16) -> String {
    (0..)
        .map(|n| format!("{stem}_{n}"))
        .find(|name| cluster.master_of(&format!("{{{name}}}")) != port)
        .unwrap()
}

/// The `redis` check of `/health` (`ok` when the whole report is), and the report; `None`
/// for an answer that is no report (the route's own per-client limit: 429) or none in 5 s.
async fn redis_health(server: &Running) -> Option<(String, serde_json::Value)> {
    let asked = server.send("GET", "/health", &[], "");
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), asked)
        .await
        .ok()?;
    if status != 200 {
        return None;
    }
    let redis = match body["status"].as_str() {
        Some("ok") => "ok",
        _ => body["checks"]["redis"].as_str().unwrap_or("absent"),
    };
    Some((redis.to_owned(), body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_a_cluster_share_limits_and_a_master_killed_under_load_fails_over() {
    let Some(mut cluster) = RedisCluster::start().await else {
        return;
    };
    let receiver = Receiver::default();
    let hook = receiver.serve().await;
    // The webhook queue's master is the one killed; the metered project lives there too.
    let doomed = cluster.master_of("{queue}");
    let generate = || ApiKey::generate(Environment::Development).unwrap();
    let tenants = Tenants {
        limited: generate(),
        metered: generate(),
        load_project: project_on(&cluster, doomed, 0),
        load: generate(),
        alerting: (1..=4)
            .map(|n| (project_on(&cluster, doomed, n), generate()))
            .collect(),
        elsewhere: (
            name_off(&cluster, "elsewhere", doomed),
            name_off(&cluster, "key_elsewhere", doomed),
        ),
        other: generate(),
    };
    // The key records are on another master: only the slots of the killed one fail.
    assert_ne!(cluster.master_of("{keys}"), doomed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memorysync.toml");
    std::fs::write(&path, config(&cluster, &hook, &tenants, "")).unwrap();
    let secret = WebhookSecret::generate().unwrap().expose();
    let env = [("HOOK_SECRET", secret.as_str())];
    let a = ServerProcess::start(&path, "a", &env).await;
    let b = ServerProcess::start(&path, "b", &env).await;
    let servers = [Running::at(a.addr), Running::at(b.addr)];

    // One limit across both: 8 a minute.
    let mut statuses = Vec::new();
    for n in 0..12 {
        statuses.push(
            send(&servers[n % 2], "GET", &tenants.limited, "proj_shared")
                .await
                .0,
        );
    }
    assert_eq!(statuses, [[200; 8].as_slice(), &[429; 4]].concat());
    // One quota across both: 3 adds.
    let mut stored = 0;
    for n in 0..6 {
        let (status, was_stored) =
            send(&servers[n % 2], "POST", &tenants.metered, "proj_shared").await;
        assert_eq!(status, 200);
        stored += usize::from(was_stored);
    }
    assert_eq!(stored, 3, "the quota held across both processes");
    receiver
        .until(Duration::from_secs(20), |arrived| {
            arrived.iter().filter(|a| a.accepted).count() == 3
        })
        .await;

    // Webhook events sit in the queue (the receiver refuses them) and are replicated, then
    // the master holding the queue is killed: each must still be delivered.
    receiver.failing.store(true, Ordering::SeqCst);
    for (n, (project, api_key)) in tenants.alerting.iter().enumerate() {
        assert_eq!(
            send(&servers[n % 2], "POST", api_key, project).await,
            (200, true)
        );
    }
    let alert_count = 3 * tenants.alerting.len();
    until_queued(&cluster, doomed, alert_count).await;
    let replicated: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5_000)
        .query(&mut cluster.node(doomed))
        .unwrap();
    assert_eq!(replicated, 1, "the queue reached the replica");

    let outcome = load_through_a_failover(&servers, &tenants, &mut cluster, doomed).await;
    println!(
        "failover: cluster ok again after {:?}; /health degraded after {:?}, ok after {:?}; \
         admitted {} of a plan of {PLAN}; statuses {:?}; elsewhere {:?}",
        outcome.failed_over,
        outcome.degraded_at,
        outcome.ok_again_at,
        outcome.admitted,
        outcome.statuses,
        outcome.elsewhere,
    );
    // A project on another master never noticed.
    assert!(
        !outcome.elsewhere.is_empty() && outcome.elsewhere.iter().all(|s| *s == (200, true)),
        "{:?}",
        outcome.elsewhere
    );
    assert!(
        outcome
            .statuses
            .iter()
            .all(|(status, _)| [200, 503].contains(status)),
        "{:?}",
        outcome.statuses
    );
    assert!(outcome.degraded_at.is_some(), "/health never said degraded");
    let ok_again = outcome.ok_again_at.expect("/health never said ok again");
    assert!(
        ok_again <= health_bound(),
        "{ok_again:?} > {:?}",
        health_bound()
    );
    // The stated bound: what the master acknowledged and had not replicated, at most the
    // requests in flight at the kill on loopback.
    let over = outcome.admitted.saturating_sub(PLAN);
    assert!(
        over <= CONCURRENCY as u64,
        "{} admitted of {PLAN}",
        outcome.admitted
    );

    receiver.failing.store(false, Ordering::SeqCst);
    receiver
        .until(Duration::from_secs(30), |arrived| {
            let accepted: std::collections::HashSet<&str> = arrived
                .iter()
                .filter(|a| a.accepted && a.event["data"]["project"] != "proj_shared")
                .filter(|a| a.event["data"]["project"] != tenants.load_project.as_str())
                .map(|a| a.id.as_str())
                .collect();
            accepted.len() == alert_count
        })
        .await;
    a.kill().await;
    b.kill().await;
}

/// What a load through a failover saw.
struct Outcome {
    failed_over: Duration,
    degraded_at: Option<Duration>,
    ok_again_at: Option<Duration>,
    admitted: u64,
    /// Each status, and how many times.
    statuses: Vec<(u16, usize)>,
    /// The answers to the project on another master, sent during the failover.
    elsewhere: Vec<(u16, bool)>,
}

/// Adds on the load project from `CONCURRENCY` tasks over both servers; the master on `doomed`
/// is killed once half the plan is used, and the load goes on until the plan is spent and the
/// cluster has failed over.
async fn load_through_a_failover(
    servers: &[Running; 2],
    tenants: &Tenants,
    cluster: &mut RedisCluster,
    doomed: u16,
) -> Outcome {
    let seen = Arc::new(Mutex::new((
        0_u64,
        std::collections::BTreeMap::<u16, usize>::new(),
    )));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..CONCURRENCY {
        let (server, seen, stop) = (servers[n % 2].clone(), Arc::clone(&seen), Arc::clone(&stop));
        let (load, project) = (tenants.load.clone(), tenants.load_project.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let (status, stored) = send(&server, "POST", &load, &project).await;
                let mut seen = seen.lock().await;
                seen.0 += u64::from(stored);
                *seen.1.entry(status).or_default() += 1;
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().await.0 < PLAN / 2 {
        assert!(
            Instant::now() < deadline,
            "the load never reached half the plan"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.kill(doomed);
    let killed = Instant::now();
    // `/health` of one process, every 50 ms, beside the load.
    let (mut degraded_at, mut ok_again_at) = (None, None);
    let failover = async {
        let failed_over = cluster.until_failed_over(doomed).await;
        (failed_over, Instant::now())
    };
    tokio::pin!(failover);
    let mut failed_over = None;
    let mut elsewhere = Vec::new();
    let mut last_health = serde_json::Value::Null;
    while ok_again_at.is_none() || failed_over.is_none() {
        assert!(
            killed.elapsed() < Duration::from_secs(40),
            "no recovery in 40 s: cluster failed over after {failed_over:?}, /health degraded \
             after {degraded_at:?}, last report {last_health}"
        );
        tokio::select! {
            done = &mut failover, if failed_over.is_none() => failed_over = Some(done.0),
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                let project = &tenants.elsewhere.0;
                let other = send(&servers[1], "POST", &tenants.other, project);
                let answer = tokio::time::timeout(Duration::from_secs(5), other).await;
                elsewhere.push(answer.unwrap_or((0, false)));
                let Some((redis, report)) = redis_health(&servers[0]).await else {
                    continue;
                };
                last_health = report;
                match redis.as_str() {
                    "ok" if degraded_at.is_some() && ok_again_at.is_none() => {
                        ok_again_at = Some(killed.elapsed());
                    }
                    "ok" => {}
                    _ if degraded_at.is_none() => degraded_at = Some(killed.elapsed()),
                    _ => {}
                }
            }
        }
    }
    // Until the plan is spent: every task's latest answers are exhausted ones.
    let spent_by = Instant::now() + Duration::from_secs(20);
    loop {
        let before = seen.lock().await.0;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if seen.lock().await.0 == before && before >= PLAN - CONCURRENCY as u64 {
            break;
        }
        assert!(
            Instant::now() < spent_by,
            "the plan was never spent: {before}"
        );
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    let (admitted, statuses) = seen.lock().await.clone();
    Outcome {
        failed_over: failed_over.unwrap(),
        degraded_at,
        ok_again_at,
        admitted,
        statuses: statuses.into_iter().collect(),
        elsewhere,
    }
}

/// Waits until the queue on the master on `port` holds `count` deliveries: a bounded poll, as
/// other processes move them.
async fn until_queued(cluster: &RedisCluster, port: u16, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let queued: usize = redis::cmd("HLEN")
            .arg("memorysync:webhook:{queue}:deliveries")
            .query(&mut cluster.node(port))
            .unwrap();
        if queued >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{queued} deliveries queued, not {count}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
