//! The stores on the shared test Redis, each under a prefix of its own: endpoint records (and
//! no secret in clear in what Redis holds), the attempt stream trimmed by age on the server's
//! clock, and the dead letters with and without their index of ids.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use memorysync_pipeline::Environment;
use memorysync_pipeline::redis_store::RedisEndpointStore;
use memorysync_pipeline::webhook::EndpointSet;
use memorysync_pipeline::webhook::endpoints::{EndpointsConfig, SecretKey, WebhookEndpoints};

use super::new_endpoint;
use crate::common::T0;
use crate::common::hooks::eventually;
use crate::common::redis::TestPrefix;
use crate::common::suites::endpoint_store_suite;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_attempt_log_keeps_its_contract_and_trims_by_age_on_the_servers_clock() {
    use memorysync_pipeline::redis_store::RedisAttemptLog;
    use memorysync_pipeline::webhook::attempt_log::{AttemptLog, AttemptQuery, AttemptRecord};

    let Some(prefix) = TestPrefix::new("webhook-attempts") else {
        return;
    };
    let connection = prefix.connect().await;
    let log = RedisAttemptLog::new(connection.clone(), Duration::from_secs(90 * 86_400));
    crate::common::suites::attempt_log_suite(&log, T0).await;

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
    crate::common::suites::dead_letter_suite(&queue, T0).await;

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
