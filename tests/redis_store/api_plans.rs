//! The admin API's plans on Redis: the plan store's suite under a test prefix, the scenario of
//! `tests/common/api_plans.rs`, and two deployments on one Redis, where a plan set on one is in
//! force on the other within a second, and one that cannot reach Redis keeps its last plans.
//! The deployments keep their keys under the default prefix, so they run on a `redis-server`
//! of their own.

use std::time::{Duration, Instant};

use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::deployment::{Deployment, DeploymentKeys, PLAN_POLL_EVERY, PlanError};
use memorysync_pipeline::key::{LastKnownKeys, RecordOwner, WithFallback};
use memorysync_pipeline::quota::{Plan, PlanStore};
use memorysync_pipeline::redis_store::{RedisKeyStore, RedisPlanStore};
use memorysync_pipeline::store::StoreErrorPolicy;

use crate::common::api_plans::{
    API_PROJECT, FILE_PROJECT, PlanKeys, add, api_plans_apply_at_once, file, insert_api_key,
    options, raised, served,
};
use crate::common::key_record::record_suite;
use crate::common::plan_store::{odd_plan, plan_store_suite};
use crate::common::redis::{RedisServer, TestPrefix};

/// What the API may take to reach another instance.
const WITHIN: Duration = Duration::from_secs(1);

fn redis_store(redis: &RedisServer) -> String {
    format!(
        "[store]\nbackend = \"redis\"\nredis_url = \"{}\"\non_store_error = \"deny\"\n",
        redis.url()
    )
}

/// Waits until `deployment` has `plan` in force for `project`, at most [`WITHIN`] since
/// `since`: a bounded wait for the other instance's poll, not a fixed sleep.
async fn until_in_force(deployment: &Deployment, project: &str, plan: &Plan, since: Instant) {
    while deployment.plans().get(project) != Some(plan) {
        assert!(
            since.elapsed() < WITHIN,
            "not in force within {WITHIN:?}: {:?}",
            deployment.plans().get(project)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn health_status(deployment: &Deployment) -> String {
    let report = crate::deployment::health_of(deployment).await;
    report["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_redis_plan_store_passes_the_suite_and_shares_its_plans() {
    let Some(prefix) = TestPrefix::new("plans") else {
        return;
    };
    let connection = prefix.connect().await;
    let store = RedisPlanStore::new(connection.clone());
    plan_store_suite(&store).await;
    let other = RedisPlanStore::new(prefix.connect().await);
    assert_eq!(other.load().await.unwrap(), store.load().await.unwrap());
    let mut keys = prefix.keys();
    keys.sort();
    let under = |name: &str| format!("{}{name}", prefix.prefix);
    assert_eq!(keys, [under("plan:{api}"), under("plan:{api}:generation")]);
    let mut manager = connection.manager();
    let stored: String = redis::cmd("HGET")
        .arg(under("plan:{api}"))
        .arg("proj_a")
        .query_async(&mut manager)
        .await
        .unwrap();
    let limits: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        limits["adds_per_month"].as_u64(),
        Some(odd_plan().adds_per_month)
    );
}

#[tokio::test]
async fn redis_key_stores_read_records_by_id() {
    let Some(prefix) = TestPrefix::new("keys_record") else {
        return;
    };
    let now = SystemClock.now();
    let store = RedisKeyStore::new(prefix.connect().await);
    record_suite(&store, now, 1, "redis").await;
    let fallback: WithFallback<RedisKeyStore, LastKnownKeys> = WithFallback::new(
        RedisKeyStore::new(prefix.connect().await),
        StoreErrorPolicy::Local,
    );
    record_suite(&fallback, now, 11, "fallback").await;
    let deployed = DeploymentKeys::Redis(WithFallback::new(
        RedisKeyStore::new(prefix.connect().await),
        StoreErrorPolicy::Deny,
    ));
    record_suite(&deployed, now, 21, "deployed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_read_of_a_redis_that_does_not_answer_is_an_error() {
    use memorysync_pipeline::key::{KeyRecord, KeyStore, KeyStoreError};
    use memorysync_pipeline::redis_store::{RedisConnection, RedisOptions};

    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let options = RedisOptions {
        timeout: Duration::from_millis(200),
        ..RedisOptions::default()
    };
    let connection = RedisConnection::connect(&redis.url(), options)
        .await
        .unwrap();
    let store: WithFallback<RedisKeyStore, LastKnownKeys> =
        WithFallback::new(RedisKeyStore::new(connection), StoreErrorPolicy::Local);
    let now = SystemClock.now();
    let key = memorysync_pipeline::key::KeyHash::from_bytes([4; 32]);
    let record = KeyRecord::new(
        "key_seen",
        key,
        "proj_a",
        memorysync_pipeline::Environment::Development,
    );
    store.insert(record.clone(), now).await.unwrap();
    assert!(store.find_by_hash(&key).await.unwrap().is_some());
    assert_eq!(store.record("key_seen").await, Ok(Some(record)));
    redis.kill();
    // The key still authenticates from memory; the admin read says Redis did not answer.
    assert!(store.find_by_hash(&key).await.unwrap().is_some());
    let read = store.record("key_seen").await;
    assert!(matches!(read, Err(KeyStoreError::Store(_))), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_api_plans_are_metered_at_once_and_kept_by_a_reconciliation() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let store = redis_store(&redis);
    let keys = PlanKeys::new();
    let deployment = Deployment::start(&file(&keys, &store, 1, 5, ""), options("node-a"))
        .await
        .unwrap();
    insert_api_key(&deployment, &keys).await;
    api_plans_apply_at_once(&deployment, &keys, &store).await;
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_set_on_one_instance_is_in_force_on_the_other_within_a_second() {
    assert!(PLAN_POLL_EVERY <= Duration::from_millis(500));
    let Some(mut redis) = RedisServer::start_durable() else {
        return;
    };
    redis.until_answers().await;
    let store = redis_store(&redis);
    let keys = PlanKeys::new();
    let first = file(&keys, &store, 1, 5, "");
    let a = Deployment::start(&first, options("node-a")).await.unwrap();
    let b = Deployment::start(&first, options("node-b")).await.unwrap();
    insert_api_key(&a, &keys).await;

    // Created on a: b meters it within a second, on the counters both share.
    let two = Plan::new(2, 100);
    a.create_project(API_PROJECT, two.clone()).await.unwrap();
    until_in_force(&b, API_PROJECT, &two, Instant::now()).await;
    assert_eq!(b.plans().owner(API_PROJECT), Some(RecordOwner::Api));
    assert!(served(&add(&b, &keys.api, API_PROJECT).await));
    assert!(served(&add(&a, &keys.api, API_PROJECT).await));
    assert!(
        !served(&add(&b, &keys.api, API_PROJECT).await),
        "degraded at 2"
    );

    // Raised on b: a serves the third add within a second.
    b.set_plan(API_PROJECT, raised()).await.unwrap();
    until_in_force(&a, API_PROJECT, &raised(), Instant::now()).await;
    assert!(served(&add(&a, &keys.api, API_PROJECT).await));
    assert!(
        !served(&add(&b, &keys.api, API_PROJECT).await),
        "degraded at 3"
    );

    // Each refuses the file's project, and a creation the other made.
    for deployment in [&a, &b] {
        let refused = deployment.set_plan(FILE_PROJECT, Plan::new(1, 1)).await;
        assert!(
            matches!(
                refused,
                Err(PlanError::OwnedBy {
                    owner: RecordOwner::Config,
                    ..
                })
            ),
            "{refused:?}"
        );
        let exists = deployment
            .create_project(API_PROJECT, Plan::new(1, 1))
            .await;
        assert!(
            matches!(
                exists,
                Err(PlanError::Exists {
                    owner: RecordOwner::Api,
                    ..
                })
            ),
            "{exists:?}"
        );
    }

    // A reconciliation on b that names the API's project keeps the API's plan, there and on a.
    let claim = format!(
        "[[projects]]\nid = \"{API_PROJECT}\"\nadds_per_month = 1000\nqueries_per_month = 1000\n"
    );
    let summary = b
        .reconcile(&file(&keys, &store, 2, 5, &claim))
        .await
        .unwrap();
    assert_eq!(summary.refused.len(), 1, "{summary:?}");
    for deployment in [&a, &b] {
        assert_eq!(deployment.plans().get(API_PROJECT), Some(&raised()));
        assert_eq!(
            deployment.plans().get(FILE_PROJECT),
            Some(&Plan::new(5, 100))
        );
    }

    // Redis stops answering: b keeps the plans it has. Once back, it follows again.
    redis.kill();
    let deadline = Instant::now() + Duration::from_secs(10);
    while health_status(&b).await != "degraded" {
        assert!(Instant::now() < deadline, "the outage never showed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.plans().get(API_PROJECT), Some(&raised()));
    assert!(a.set_plan(API_PROJECT, Plan::new(9, 9)).await.is_err());
    redis.restart();
    redis.until_answers().await;
    let nine = Plan::new(9, 9);
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.set_plan(API_PROJECT, nine.clone()).await.is_err() {
        assert!(Instant::now() < deadline, "redis never answered a again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let set = Instant::now();
    let deadline = set + Duration::from_secs(10);
    // b's connection may still be probing when a's write lands: its first read after that
    // is within a poll.
    while b.plans().get(API_PROJECT) != Some(&nine) {
        assert!(
            Instant::now() < deadline,
            "b never followed after the outage"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served(&add(&b, &keys.api, API_PROJECT).await));
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}
