//! Webhook endpoints and the attempt log on Redis: the stores' contracts under a test prefix, no
//! secret in clear in what Redis holds, the attempt stream trimmed by age, and two deployments
//! on one Redis (one prefix) sharing an endpoint created on one and published on the other, a
//! 410 met by either, a rotation, each in force on the other instance within a second, and
//! one attempt log.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::redis_store::RedisEndpointStore;
use memorysync_pipeline::webhook::EndpointSet;
use memorysync_pipeline::webhook::endpoints::{
    EndpointState, EndpointsConfig, NewEndpoint, SecretKey, WebhookEndpoints,
};

use crate::common::T0;
use crate::common::hooks::{Hook, endpoint_store_suite, eventually};
use crate::common::redis::{RedisServer, TestPrefix};

fn new_endpoint(url: &str) -> NewEndpoint {
    NewEndpoint {
        project: Some("proj_a".into()),
        url: url.to_owned(),
        events: vec!["quota.exhausted".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_endpoint_store_keeps_its_contract_and_holds_secrets_only_sealed() {
    let Some(prefix) = TestPrefix::new("webhook-endpoints") else {
        return;
    };
    let connection = prefix.connect().await;
    let store = RedisEndpointStore::new(connection.clone());
    endpoint_store_suite(&store, T0).await;

    let key = SecretKey::generate().unwrap();
    let config = EndpointsConfig::new(Environment::Development).with_secret_key(Some(key.clone()));
    let endpoints = WebhookEndpoints::start(store, EndpointSet::new(Vec::new()), config).await;
    let (view, secret) = endpoints
        .create(new_endpoint("https://hooks.example.com/in"))
        .await
        .unwrap();
    let mut manager = connection.manager();
    let raw: String = redis::cmd("HGET")
        .arg(connection.key(&["webhook", "{endpoints}", "records"]))
        .arg(&view.id)
        .query_async(&mut manager)
        .await
        .unwrap();
    assert!(
        raw.contains(&view.id) && raw.contains("\"sealed\":\"v1."),
        "{raw}"
    );
    let text = &secret.expose()["whsec_".len()..];
    assert!(!raw.contains(text), "the secret in clear: {raw}");
    assert!(!raw.contains(&key.to_base64()), "the key: {raw}");
    let bytes = STANDARD.decode(text).unwrap();
    assert!(!raw.as_bytes().windows(bytes.len()).any(|w| w == bytes));
}

fn config(url: &str) -> Config {
    Config::from_toml(&format!(
        "environment = \"development\"\n\
         [store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n\
         [admin]\nsecret_key_env = \"SEAL_KEY\"\n\
         [[projects]]\nid = \"proj_a\"\nadds_per_month = 10\nqueries_per_month = 10\n"
    ))
    .unwrap()
}

fn options(instance: &str, key: &SecretKey, clock: &ManualClock) -> DeploymentOptions {
    let key = key.to_base64();
    DeploymentOptions::new()
        .with_instance(instance)
        .with_clock(clock.clone())
        .with_secret_source(move |name: &str| (name == "SEAL_KEY").then(|| key.clone()))
}

/// Waits until `check` holds on the other instance, and says that it took under a second.
async fn within_a_second(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    eventually(what, async || check().await).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_an_endpoint_its_410_and_its_rotation_within_a_second() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let config = config(&redis.url());
    let a = Deployment::start(&config, options("node-a", &key, &clock))
        .await
        .unwrap();
    let b = Deployment::start(&config, options("node-b", &key, &clock))
        .await
        .unwrap();
    let b_set = b.webhooks().unwrap().endpoints().clone();
    let mut hook = Hook::start().await;

    // Created on A, in force on B: B publishes, the receiver verifies with the secret A gave.
    let (view, secret) = a
        .endpoints()
        .create(new_endpoint(&hook.url("/in")))
        .await
        .unwrap();
    let id = view.id.clone();
    within_a_second("B has the endpoint", async || {
        b_set.snapshot().iter().any(|e| e.id() == id)
    })
    .await;
    let message = b.webhooks().unwrap().publish_for(
        "proj_a",
        "quota.exhausted",
        serde_json::json!({ "n": 1 }),
    );
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), &*message);
    assert!(arrival.verifies(&secret, clock.now()));

    // A 410 on a delivery A published (whichever instance sent it) disables it for B.
    hook.answer(410);
    a.webhooks()
        .unwrap()
        .publish_for("proj_a", "quota.exhausted", serde_json::json!({ "n": 2 }));
    hook.next().await;
    within_a_second("B sees the 410", async || {
        let stored = b.endpoints().get(&id).await.unwrap().state;
        b.webhooks().unwrap().is_disabled(&id) && stored == EndpointState::DisabledGone
    })
    .await;

    // Enabled and rotated on A: B signs with both secrets until the overlap ends.
    hook.answer(200);
    a.endpoints().enable(&id).await.unwrap();
    let hour = Duration::from_secs(3600);
    let (_, new) = a.endpoints().rotate_secret(&id, hour).await.unwrap();
    within_a_second("B has the rotation", async || {
        let snapshot = b_set.snapshot();
        let endpoint = snapshot.iter().find(|e| e.id() == id).unwrap();
        endpoint.state().is_enabled() && endpoint.rotating_until(clock.now()).is_some()
    })
    .await;
    let hooks = b.webhooks().unwrap();
    hooks.publish_for("proj_a", "quota.exhausted", serde_json::json!({ "n": 3 }));
    let during = hook.next().await;
    assert_eq!(during.signatures(), 2, "{during:?}");
    assert!(during.verifies(&secret, clock.now()) && during.verifies(&new, clock.now()));
    clock.advance(hour);
    hooks.publish_for("proj_a", "quota.exhausted", serde_json::json!({ "n": 4 }));
    let after = hook.next().await;
    assert_eq!(after.signatures(), 1);
    assert!(after.verifies(&new, clock.now()) && !after.verifies(&secret, clock.now()));

    // Every attempt, whichever instance sent it, is in the one log both read.
    use memorysync_pipeline::webhook::attempt_log::{AttemptLog, AttemptQuery};
    let mine = AttemptQuery {
        endpoint: Some(id.clone()),
        ..AttemptQuery::default()
    };
    eventually("both instances read the four attempts", async || {
        let on_a = a.webhook_attempts().query(&mine).await.unwrap().items;
        let on_b = b.webhook_attempts().query(&mine).await.unwrap().items;
        on_a.len() == 4 && on_a == on_b
    })
    .await;
    let attempts = a.webhook_attempts().query(&mine).await.unwrap().items;
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [Some(200), Some(200), Some(410), Some(200)],
        "newest first"
    );

    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_attempt_log_keeps_its_contract_and_trims_by_age_on_the_servers_clock() {
    use memorysync_pipeline::redis_store::RedisAttemptLog;
    use memorysync_pipeline::webhook::attempt_log::{AttemptLog, AttemptQuery, AttemptRecord};

    let Some(prefix) = TestPrefix::new("webhook-attempts") else {
        return;
    };
    let connection = prefix.connect().await;
    let log = RedisAttemptLog::new(connection.clone(), Duration::from_secs(90 * 86_400));
    crate::common::hooks::attempt_log_suite(&log, T0).await;

    // A retention of a millisecond: the server trims the first attempt once a later one comes
    // a millisecond after it (by its own clock).
    let short = RedisAttemptLog::new(connection.clone(), Duration::from_millis(1));
    let first = AttemptRecord::new(T0, "ep_t", "msg_first", "webhook.test", Some(200), 1, None);
    short.record(first).await.unwrap();
    let everything = AttemptQuery {
        endpoint: Some("ep_t".into()),
        limit: 1000,
        ..AttemptQuery::default()
    };
    eventually("the first attempt is trimmed", async || {
        let later = AttemptRecord::new(T0, "ep_t", "msg_later", "webhook.test", Some(200), 1, None);
        short.record(later).await.unwrap();
        let page = short.query(&everything).await.unwrap();
        page.items.iter().all(|a| &*a.message != "msg_first")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_queue_keeps_the_dead_letter_contract_with_or_without_its_index() {
    use memorysync_pipeline::redis_store::RedisWebhookQueue;
    use memorysync_pipeline::webhook::{DeadLetter, Delivery, WebhookQueue};

    let Some(prefix) = TestPrefix::new("webhook-dead-letters") else {
        return;
    };
    let connection = prefix.connect().await;
    let queue = RedisWebhookQueue::new(connection.clone());
    crate::common::hooks::dead_letter_suite(&queue, T0).await;

    // A letter stored before letters had an index of ids is still replayed by its id.
    let delivery = Delivery {
        id: "msg_old".into(),
        endpoint: None,
        url: "https://hooks.example.com/in".into(),
        event_type: "webhook.test".into(),
        body: bytes::Bytes::from_static(b"{}"),
        created_at: T0,
        attempts: 8,
        due_at: T0,
    };
    queue.push(delivery.clone()).await.unwrap();
    queue.claim_due(T0, 1).await.unwrap();
    let letter = DeadLetter {
        delivery,
        reason: "status 500".into(),
        at: T0,
    };
    let id = letter.id();
    queue.dead_letter(letter).await.unwrap();
    let mut manager = connection.manager();
    let _: i64 = redis::cmd("DEL")
        .arg(connection.key(&["webhook", "dead-ids"]))
        .query_async(&mut manager)
        .await
        .unwrap();
    assert_eq!(queue.dead_letter_count().await.unwrap(), 1);
    assert!(queue.replay_letter(&id, T0).await.unwrap());
    assert_eq!(queue.dead_letter_count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_made_on_one_instance_is_replayed_by_its_id_on_the_other() {
    use memorysync_pipeline::webhook::endpoints::EndpointPatch;

    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let config = config(&redis.url());
    let a = Deployment::start(&config, options("node-a", &key, &clock))
        .await
        .unwrap();
    let b = Deployment::start(&config, options("node-b", &key, &clock))
        .await
        .unwrap();
    let mut hook = Hook::start().await;
    let (view, secret) = a
        .endpoints()
        .create(new_endpoint(&hook.url("/in")))
        .await
        .unwrap();
    let off = EndpointPatch {
        enabled: Some(false),
        ..EndpointPatch::default()
    };
    a.endpoints().update(&view.id, off).await.unwrap();
    let message = a.webhooks().unwrap().publish_for(
        "proj_a",
        "quota.exhausted",
        serde_json::json!({ "n": 1 }),
    );
    let on_b = b.webhooks().unwrap();
    eventually("B counts the dead letter", async || {
        on_b.dead_letter_count().await.unwrap() == 1
    })
    .await;
    let page = on_b.dead_letter_page(None, 10).await.unwrap();
    assert_eq!((page.count, &*page.items[0].delivery.id), (1, &*message));

    a.endpoints().enable(&view.id).await.unwrap();
    within_a_second("B has it enabled", async || !on_b.is_disabled(&view.id)).await;
    assert!(on_b.replay_letter(&page.items[0].id()).await.unwrap());
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), &*message);
    assert!(arrival.verifies(&secret, clock.now()));
    assert_eq!(a.webhooks().unwrap().dead_letter_count().await.unwrap(), 0);
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}
