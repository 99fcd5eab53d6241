//! Dead letters with health and replay, a graceful shutdown that loses nothing, and a restart
//! on the same queue.

use super::*;

// ---------------------------------------------------------------------------------------------
// 6. Dead letters, health and replay.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_up_attempts_are_dead_lettered_reported_and_replayed() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], status(500)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20], 2_000),
    ));
    let health = hooks.health_check();
    assert_eq!(health.name(), "webhooks");
    assert_eq!(health.check().await, CheckStatus::Ok);

    let id = hooks.publish("memory.added", json!({ "n": 1 }));
    for _ in 0..3 {
        let attempt = receiver.next().await;
        verify(&secret, &attempt);
        assert_eq!(attempt.id(), &*id);
    }
    settled(&hooks, 0, 1).await;
    let letter = only_dead_letter(&hooks).await;
    assert_eq!(letter.delivery.id, id);
    assert_eq!(letter.delivery.attempts, 3);
    assert!(letter.reason.contains("500"), "{}", letter.reason);
    match health.check().await {
        CheckStatus::Degraded(text) => assert!(text.contains('1'), "{text}"),
        other => panic!("expected degraded, got {other:?}"),
    }

    assert!(!hooks.replay("msg_unknown", &url).await.unwrap());
    receiver.then(status(200));
    assert!(hooks.replay(&id, &letter.delivery.url).await.unwrap());
    let replayed = receiver.next().await;
    verify(&secret, &replayed);
    assert_eq!(replayed.id(), &*id, "a replay keeps the webhook-id");
    assert_eq!(replayed.body, letter.delivery.body);
    settled(&hooks, 1, 1).await;
    assert!(hooks.dead_letters().await.unwrap().is_empty());
    assert_eq!(health.check().await, CheckStatus::Ok);
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (4, 3, 2));
}

// ---------------------------------------------------------------------------------------------
// 7. Graceful shutdown and a restart on the same queue.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_mid_delivery_loses_nothing_and_a_restart_delivers_the_rest() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], Reply::Hold).await;
    let url = receiver.url("/hook");
    let queue = MemoryWebhookQueue::new();
    let settings = development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20], 5_000),
    )
    .with_concurrency(4);
    let first = Webhooks::start(
        queue.clone(),
        HttpsTransport::new(Environment::Development),
        settings.clone(),
    )
    .unwrap();

    let ids: Vec<String> = (0..20)
        .map(|n| first.publish("memory.added", json!({ "n": n })).to_string())
        .collect();
    for _ in 0..4 {
        verify(&secret, &receiver.next().await);
    }
    eventually("all 20 are queued", async || {
        first.pending().await.unwrap() == 20
    })
    .await;
    assert_eq!(first.stats().attempts, 4, "at most 4 in flight");

    // Two of the four in flight answer within the grace period; the other two never do.
    receiver.release(2);
    let began = Instant::now();
    assert!(
        first.shutdown(Duration::from_millis(100)).await.is_empty(),
        "the queue took every event"
    );
    let took = began.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");

    let stats = first.stats();
    let pending = u64::try_from(first.pending().await.unwrap()).unwrap();
    assert_eq!(stats.published, 20);
    assert_eq!(stats.dead_lettered, 0);
    assert_eq!(
        pending + stats.delivered + stats.dead_lettered,
        20,
        "{stats:?}, {pending} pending"
    );
    assert_eq!(stats.delivered, 2, "{stats:?}");
    assert_eq!(receiver.successes().len(), 2, "every 200 given was counted");
    while receiver.arrivals.try_recv().is_ok() {}

    // A new worker on the same queue delivers the rest.
    receiver.then(status(200));
    let second = Webhooks::start(
        queue.clone(),
        HttpsTransport::new(Environment::Development),
        settings,
    )
    .unwrap();
    for _ in 0..pending {
        verify(&secret, &receiver.next().await);
    }
    settled(&second, pending, 0).await;
    assert_eq!(queue_pending(&queue).await, 0);

    let mut delivered: HashMap<String, usize> = HashMap::new();
    for id in receiver.successes() {
        *delivered.entry(id).or_default() += 1;
    }
    assert_eq!(
        delivered.keys().cloned().collect::<HashSet<_>>(),
        ids.iter().cloned().collect::<HashSet<_>>(),
        "every event was delivered"
    );
    assert!(
        delivered.values().all(|&n| n == 1),
        "each webhook-id succeeded exactly once: {delivered:?}"
    );
    assert_eq!(second.stats().failures, 0);
}

async fn queue_pending(queue: &MemoryWebhookQueue) -> usize {
    use memorysync_pipeline::webhook::WebhookQueue;
    queue.pending().await.unwrap()
}

#[tokio::test]
async fn events_published_just_before_shutdown_stay_queued() {
    let secret = WebhookSecret::generate().unwrap();
    let receiver = Receiver::start([], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, queue) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20], 2_000),
    ));
    for n in 0..5 {
        hooks.publish("memory.added", json!({ "n": n }));
    }
    assert!(
        hooks.shutdown(Duration::from_millis(100)).await.is_empty(),
        "the queue took every event"
    );
    let stats = hooks.stats();
    assert_eq!(stats.published, 5);
    let pending = u64::try_from(queue_pending(&queue).await).unwrap();
    assert_eq!(
        pending + stats.delivered + stats.dead_lettered,
        5,
        "{stats:?}, {pending} pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dropped_mid_delivery_leaves_nothing_stranded() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], Reply::Hold).await;
    let url = receiver.url("/hook");
    let settings = development(vec![endpoint(&url, &secret, &[])], fast(&[0, 20], 5_000));
    let (hooks, queue) = start(settings.clone());
    let id = hooks.publish("memory.added", json!({}));
    assert_eq!(receiver.next().await.id(), &*id);
    drop(hooks);

    receiver.then(status(200));
    let again = Webhooks::start(
        queue.clone(),
        HttpsTransport::new(Environment::Development),
        settings,
    )
    .unwrap();
    let Ok(arrival) = tokio::time::timeout(Duration::from_secs(2), receiver.arrivals.recv()).await
    else {
        let stranded = queue_pending(&queue).await;
        panic!("the in-flight delivery was never sent again ({stranded} pending)");
    };
    let arrival = arrival.unwrap();
    assert_eq!(arrival.id(), &*id);
    settled(&again, 1, 0).await;
}
