//! A queue that refuses events, and a channel that is full: publishers never wait and nothing is
//! dropped; refused events are offered again with back-off while `/health` reports the backlog;
//! `published` counts what the queue took; a shutdown hands back what it never took. On tokio's
//! paused clock, with a transport that answers at once, so the back-off is measured exactly.

use std::sync::atomic::AtomicBool;

use memorysync_pipeline::store::StoreError;
use memorysync_pipeline::webhook::{Delivery, WebhookQueue};
use tokio::time::Instant as TokioInstant;

use super::*;

/// The in-memory queue, refusing pushes while `refusing` is set, each push taking `push_ms`;
/// every offer's time is noted.
#[derive(Clone, Default)]
struct Refusing {
    inner: MemoryWebhookQueue,
    refusing: Arc<AtomicBool>,
    push_ms: Arc<std::sync::atomic::AtomicU64>,
    offers: Arc<Mutex<Vec<TokioInstant>>>,
}

impl Refusing {
    fn refuse(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }

    /// The waits between offers, in milliseconds.
    fn gaps(&self) -> Vec<u128> {
        let offers = self.offers.lock().unwrap();
        offers
            .windows(2)
            .map(|w| (w[1] - w[0]).as_millis())
            .collect()
    }

    fn offers(&self) -> usize {
        self.offers.lock().unwrap().len()
    }
}

impl WebhookQueue for Refusing {
    async fn push(&self, delivery: Delivery) -> Result<(), StoreError> {
        self.offers.lock().unwrap().push(TokioInstant::now());
        run_for(self.push_ms.load(Ordering::SeqCst)).await;
        if self.refusing.load(Ordering::SeqCst) {
            return Err(StoreError::new("connection refused"));
        }
        self.inner.push(delivery).await
    }

    async fn claim_due(&self, now: Timestamp, max: usize) -> Result<Vec<Delivery>, StoreError> {
        self.inner.claim_due(now, max).await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.inner.next_due().await
    }

    async fn finish(&self, id: &str, url: &str) -> Result<(), StoreError> {
        self.inner.finish(id, url).await
    }

    async fn reschedule(&self, delivery: Delivery) -> Result<(), StoreError> {
        self.inner.reschedule(delivery).await
    }

    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), StoreError> {
        self.inner.dead_letter(letter).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.dead_letters().await
    }

    async fn replay(&self, id: &str, url: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.inner.replay(id, url, now).await
    }

    async fn release_claimed(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.inner.release_claimed(now).await
    }

    async fn pending(&self) -> Result<usize, StoreError> {
        self.inner.pending().await
    }
}

/// A transport that answers 200 at once and notes each `webhook-id` it carried.
#[derive(Clone, Default)]
struct Noted(Arc<Mutex<Vec<String>>>);

impl Noted {
    fn service(
        &self,
    ) -> impl tower::Service<
        Request<Bytes>,
        Response = Response<()>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static {
        let noted = self.clone();
        tower::service_fn(move |request: Request<Bytes>| {
            let id = request.headers()[WEBHOOK_ID].to_str().unwrap().to_owned();
            noted.0.lock().unwrap().push(id);
            std::future::ready(Ok::<_, Infallible>(Response::new(())))
        })
    }

    /// Each id carried, with how many times.
    fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for id in self.0.lock().unwrap().iter() {
            *counts.entry(id.clone()).or_default() += 1;
        }
        counts
    }
}

fn alert(used: u64) -> QuotaAlert {
    QuotaAlert {
        project: Arc::from("proj_demo"),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
        threshold: 75,
        used,
        limit: 1000,
    }
}

fn start_on(queue: &Refusing, transport: &Noted, capacity: usize) -> Webhooks<Refusing> {
    let secret = WebhookSecret::generate().unwrap();
    let settings = development(
        vec![endpoint("http://127.0.0.1:9/hook", &secret, &[])],
        fast(&[0, 20], 1_000),
    )
    .with_channel_capacity(capacity);
    Webhooks::start(queue.clone(), transport.service(), settings).unwrap()
}

/// Publishes `n` quota alerts through the sink the quota stage calls.
fn publish_alerts(hooks: &Webhooks<Refusing>, n: u64) {
    let sink = hooks.quota_alert_sink();
    for used in 0..n {
        sink(&alert(750 + used));
    }
}

async fn health(hooks: &Webhooks<Refusing>) -> CheckStatus {
    hooks.health_check().check().await
}

/// Lets the worker run for `millis` of the paused clock.
async fn run_for(millis: u64) {
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

#[tokio::test(start_paused = true)]
async fn events_the_queue_refuses_wait_with_back_off_and_all_arrive_once_it_takes_them() {
    let (queue, transport) = (Refusing::default(), Noted::default());
    queue.refuse(true);
    let hooks = start_on(&queue, &transport, 1024);
    publish_alerts(&hooks, 10);

    // Offers at 0, 50, 150, 350, 750, 1550, 2550 and 3550 ms: the back-off doubles to 1 s.
    run_for(4_000).await;
    assert_eq!(queue.gaps(), [50, 100, 200, 400, 800, 1000, 1000]);
    let stats = hooks.stats();
    assert_eq!(
        (stats.published, stats.backlog, stats.refused),
        (0, 10, 8),
        "nothing counts as published before the queue has it: {stats:?}"
    );
    assert_eq!(
        health(&hooks).await,
        CheckStatus::Degraded("10 events waiting for the queue".into())
    );
    assert!(transport.counts().is_empty());

    // Published during the outage, behind the others: still not offered before the back-off.
    publish_alerts(&hooks, 2);
    run_for(10).await;
    assert_eq!(queue.offers(), 8);
    assert_eq!(hooks.stats().backlog, 12);

    queue.refuse(false);
    run_for(1_000).await;
    let counts = transport.counts();
    assert_eq!(counts.len(), 12, "every event arrived: {counts:?}");
    assert!(counts.values().all(|&n| n == 1), "each once: {counts:?}");
    let stats = hooks.stats();
    assert_eq!(
        (
            stats.published,
            stats.backlog,
            stats.refused,
            stats.delivered
        ),
        (12, 0, 8, 12),
        "{stats:?}"
    );
    assert_eq!(health(&hooks).await, CheckStatus::Ok);
    assert!(hooks.shutdown(Duration::from_secs(1)).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_full_channel_neither_blocks_a_publisher_nor_drops_an_event() {
    let (queue, transport) = (Refusing::default(), Noted::default());
    let hooks = start_on(&queue, &transport, 2);
    // On this one thread the worker cannot run until the test waits: two fit in the channel,
    // 48 do not, and a publisher that waited for room would wait forever.
    publish_alerts(&hooks, 50);
    assert_eq!(hooks.stats().backlog, 50);
    assert_eq!(
        health(&hooks).await,
        CheckStatus::Degraded("50 events waiting for the queue".into())
    );

    run_for(100).await;
    let counts = transport.counts();
    assert_eq!(counts.len(), 50, "every event arrived: {counts:?}");
    assert!(counts.values().all(|&n| n == 1), "each once: {counts:?}");
    let stats = hooks.stats();
    assert_eq!((stats.published, stats.backlog, stats.refused), (50, 0, 0));
    assert_eq!(health(&hooks).await, CheckStatus::Ok);
    assert!(hooks.shutdown(Duration::from_secs(1)).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_hands_back_the_events_the_queue_still_refuses_and_one_published_after_it() {
    let (queue, transport) = (Refusing::default(), Noted::default());
    queue.refuse(true);
    let hooks = start_on(&queue, &transport, 1024);
    let ids: Vec<Arc<str>> = (0..3)
        .map(|n| hooks.publish("memory.added", json!({ "n": n })))
        .collect();

    // Offered at 0, 50, 150, 350, 750 and 1550 ms; the next offer would fall after the
    // deadline.
    let left = hooks.shutdown(Duration::from_secs(2)).await;
    assert_eq!(
        left.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ids,
        "every event, oldest first"
    );
    let body: Value = serde_json::from_slice(&left[1].body).unwrap();
    assert_eq!(body["data"], json!({ "n": 1 }));
    let stats = hooks.stats();
    assert_eq!(
        (stats.published, stats.backlog, stats.refused),
        (0, 0, 6),
        "{stats:?}"
    );
    assert_eq!(queue.offers(), 6);

    // Published after the worker stopped: kept, and handed back by the next call.
    let late = hooks.publish("memory.added", json!({ "n": 3 }));
    assert_eq!(hooks.stats().backlog, 1);
    let left = hooks.shutdown(Duration::ZERO).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, late);
    assert!(transport.counts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_queue_that_takes_events_again_before_the_deadline_gets_them_at_shutdown() {
    let (queue, transport) = (Refusing::default(), Noted::default());
    queue.refuse(true);
    let hooks = start_on(&queue, &transport, 1024);
    publish_alerts(&hooks, 3);
    run_for(10).await;
    assert_eq!(hooks.stats().refused, 1);

    let stopping = tokio::spawn({
        let hooks = hooks.clone();
        async move { hooks.shutdown(Duration::from_secs(5)).await }
    });
    run_for(500).await;
    queue.refuse(false);
    let left = stopping.await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    let stats = hooks.stats();
    assert_eq!((stats.published, stats.backlog), (3, 0), "{stats:?}");
    assert_eq!(
        queue.inner.pending().await.unwrap(),
        3,
        "queued for the next start"
    );
}

#[cfg(feature = "metrics")]
#[test]
fn the_backlog_and_the_refused_offers_are_on_the_metrics() {
    use metrics_exporter_prometheus::PrometheusBuilder;

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let (queue, transport) = (Refusing::default(), Noted::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let lines = || -> Vec<String> { handle.render().lines().map(str::to_owned).collect() };
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            queue.refuse(true);
            let hooks = start_on(&queue, &transport, 1024);
            publish_alerts(&hooks, 4);
            run_for(200).await;
            let during = lines();
            assert!(
                during.contains(&"memorysync_webhook_backlog 4".to_owned())
                    && during.contains(&"memorysync_webhook_refused_total 3".to_owned()),
                "{during:#?}"
            );
            queue.refuse(false);
            run_for(1_000).await;
            assert!(hooks.shutdown(Duration::from_secs(1)).await.is_empty());
        });
    });
    let after = lines();
    assert!(
        after.contains(&"memorysync_webhook_backlog 0".to_owned()),
        "{after:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_queue_catching_up_on_a_large_backlog_does_not_hold_up_the_shutdown() {
    let (queue, transport) = (Refusing::default(), Noted::default());
    queue.refuse(true);
    let hooks = start_on(&queue, &transport, 1024);
    publish_alerts(&hooks, 100);
    run_for(10).await;
    // Back, but slow: the hundred would take 5 s.
    queue.push_ms.store(50, Ordering::SeqCst);
    queue.refuse(false);
    run_for(1_000).await;
    let taken = hooks.stats().published;
    assert!(
        (15..=25).contains(&taken),
        "{taken} taken in the first second"
    );
    assert_eq!(
        health(&hooks).await,
        CheckStatus::Degraded(format!("{} events waiting for the queue", 100 - taken).into()),
        "degraded until the queue has the whole backlog"
    );

    let began = TokioInstant::now();
    let left = hooks.shutdown(Duration::from_secs(1)).await;
    let took = began.elapsed();
    assert!(
        took <= Duration::from_millis(1_100),
        "shutdown took {took:?}"
    );
    let stats = hooks.stats();
    assert_eq!(
        stats.published + left.len() as u64,
        100,
        "each event taken by the queue or handed back: {stats:?}, {} left",
        left.len()
    );
    assert_eq!(stats.backlog, 0);
    assert!(!left.is_empty(), "the queue was too slow to take them all");
}
