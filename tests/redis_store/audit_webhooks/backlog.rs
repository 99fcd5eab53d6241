//! Quota alerts published while the Redis queue refuses them (a `redis-server` of the test's
//! own, killed, then restarted from its append-only file): they wait in the process, `/health`
//! reports the backlog, and once Redis is back every one is delivered once, with true counts.

use std::collections::HashSet;

use memorysync_pipeline::health::{CheckStatus, HealthCheck};
use memorysync_pipeline::quota::{Month, Operation, QuotaAlert};

use super::next_process::{receiver, settings};
use super::*;
use crate::common::redis::RedisServer;

fn alert(used: u64) -> QuotaAlert {
    QuotaAlert {
        project: Arc::from("proj_a"),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
        threshold: 75,
        used,
        limit: 100,
    }
}

/// The next `n` arrivals, each verified: the `used` of each alert.
async fn arrive(
    arrivals: &mut mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
    secret: &WebhookSecret,
    n: usize,
) -> Vec<u64> {
    let mut used = Vec::with_capacity(n);
    for _ in 0..n {
        let (headers, body) = tokio::time::timeout(PATIENCE, arrivals.recv())
            .await
            .expect("the next alert arrives")
            .unwrap();
        Verifier::new(secret.clone())
            .verify_headers(&headers, &body, SystemClock.now())
            .unwrap();
        let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(event["type"], "quota.threshold");
        used.push(event["data"]["used"].as_u64().unwrap());
    }
    used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_alerts_published_while_redis_is_down_are_all_delivered_once_it_is_back() {
    let Some(mut redis) = RedisServer::start_durable() else {
        return;
    };
    redis.until_answers().await;
    let options = RedisOptions {
        prefix: "memorysync-test:backlog:".into(),
        timeout: Duration::from_millis(200),
    };
    let connection = RedisConnection::connect(&redis.url(), options)
        .await
        .unwrap();
    let queue = RedisWebhookQueue::new(connection);
    let secret = WebhookSecret::generate().unwrap();
    let (endpoint, mut arrivals) = receiver().await;
    let transport = HttpsTransport::new(Environment::Development);
    let hooks = Webhooks::start(queue.clone(), transport, settings(&endpoint, &secret)).unwrap();
    let alerts = hooks.quota_alert_sink();
    let health = hooks.health_check();

    // Redis up: delivered, and finished in the queue before the kill.
    (0..5).for_each(|used| alerts(&alert(used)));
    let mut used = arrive(&mut arrivals, &secret, 5).await;
    eventually("the first five to be finished", || {
        let queue = queue.clone();
        async move { queue.pending().await.unwrap() == 0 }
    })
    .await;

    redis.kill();
    (5..15).for_each(|used| alerts(&alert(used)));
    eventually("the queue to refuse the ten", || {
        let stats = hooks.stats();
        async move { stats.refused > 0 && stats.backlog == 10 }
    })
    .await;
    assert_eq!(hooks.stats().published, 5, "{:?}", hooks.stats());
    match health.check().await {
        CheckStatus::Degraded(text) => {
            assert!(text.contains("10 events waiting for the queue"), "{text}");
        }
        CheckStatus::Ok => panic!("healthy while ten events wait"),
    }
    assert!(arrivals.try_recv().is_err(), "nothing was sent");

    redis.restart();
    redis.until_answers().await;
    used.extend(arrive(&mut arrivals, &secret, 10).await);
    (15..20).for_each(|used| alerts(&alert(used)));
    used.extend(arrive(&mut arrivals, &secret, 5).await);
    eventually("every delivery to be finished", || {
        let queue = queue.clone();
        let delivered = hooks.stats().delivered;
        async move { delivered == 20 && queue.pending().await.unwrap() == 0 }
    })
    .await;

    assert_eq!(used.len(), 20);
    assert_eq!(
        used.iter().copied().collect::<HashSet<_>>(),
        (0..20).collect::<HashSet<_>>(),
        "every alert arrived, none twice: {used:?}"
    );
    let stats = hooks.stats();
    assert_eq!(
        (stats.published, stats.backlog, stats.delivered),
        (20, 0, 20),
        "{stats:?}"
    );
    assert_eq!((stats.failures, stats.dead_lettered), (0, 0), "{stats:?}");
    assert!(stats.refused > 0, "{stats:?}");
    eventually("health to be ok", || {
        let health = &health;
        async move { health.check().await == CheckStatus::Ok }
    })
    .await;
    assert!(
        hooks.shutdown(Duration::from_secs(1)).await.is_empty(),
        "the queue took every event"
    );
    assert!(arrivals.try_recv().is_err(), "nothing arrived twice");
}
