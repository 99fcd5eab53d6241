//! The Redis audit stream and webhook queue against a real Redis (`MEMORYSYNC_TEST_REDIS_URL`;
//! every case is skipped when it is not set). Covered: 1,000 audited requests written to the
//! stream and verified against the log's head, ids that stay valid when event times repeat or go
//! back, retention by `XTRIM MINID` to the millisecond (directly and from the writer), the chain
//! continued by a second `AuditLog`; the webhook queue suite run over both `MemoryWebhookQueue`
//! and `RedisWebhookQueue`; and a webhook left behind by a crashed or stopped process delivered
//! by the next one to a loopback receiver.
//!
//! Each case uses its own key prefix and deletes its keys when it ends (even by a panic). Event
//! times come from a `ManualClock`; arrivals are awaited on a channel, with a generous timeout
//! only as a safety net; worker bookkeeping is polled under a deadline.
#![cfg(all(feature = "redis", feature = "webhook-client"))]
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, Uri};
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{
    AuditLog, AuditLogConfig, AuditRecordLayer, AuditSink, ChainedLine, verify,
};
use memorysync_pipeline::clock::{Clock, ManualClock, SystemClock, Timestamp};
use memorysync_pipeline::redis_store::{
    RedisAuditSink, RedisConnection, RedisOptions, RedisWebhookQueue,
};
use memorysync_pipeline::webhook::{
    DeadLetter, Delivery, Endpoint, HttpsTransport, MemoryWebhookQueue, Verifier, WebhookQueue,
    WebhookSecret, WebhookSettings, Webhooks,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// 2027-01-15T08:00:00Z.
const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);
/// The safety net around every wait: far longer than any case needs.
const PATIENCE: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(2);
const NINETY_DAYS: Duration = Duration::from_secs(90 * 86_400);

// ----- fixtures -----------------------------------------------------------------------------

fn redis_url() -> Option<String> {
    match std::env::var("MEMORYSYNC_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: MEMORYSYNC_TEST_REDIS_URL is not set");
            None
        }
    }
}

/// A key prefix of its own for one case; its keys are deleted when it is dropped.
struct Prefix {
    url: String,
    prefix: String,
}

impl Prefix {
    fn new(url: &str, case: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Prefix {
            url: url.to_owned(),
            prefix: format!(
                "memorysync-test-{case}-{}-{nanos}-{}:",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ),
        }
    }

    fn keys(&self) -> Vec<String> {
        let mut connection = redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection_with_timeout(TIMEOUT)
            .unwrap();
        redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut connection)
            .unwrap()
    }

    async fn connection(&self) -> RedisConnection {
        let options = RedisOptions {
            prefix: self.prefix.clone(),
            timeout: TIMEOUT,
        };
        RedisConnection::connect(&self.url, options).await.unwrap()
    }

    fn audit_sink(&self) -> RedisAuditSink {
        RedisAuditSink::open(&self.url, &self.prefix, TIMEOUT).unwrap()
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_connection_with_timeout(TIMEOUT) else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut connection)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<usize> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

/// `T0` moved by `millis`.
fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0.unix_millis() + millis)
}

/// Waits until `done` holds, checking between short pauses, for at most `PATIENCE`.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Sends one request per entry of `times` through the audit stage, the clock set to each.
async fn audit_requests(
    log: &AuditLog,
    clock: &ManualClock,
    times: impl IntoIterator<Item = Timestamp>,
) {
    let service = ServiceBuilder::new()
        .layer(AuditRecordLayer::new(log.clone()).with_clock(clock.clone()))
        .service(service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    for (n, time) in times.into_iter().enumerate() {
        clock.set(time);
        let request = Request::get(format!("/v1/memories/{n}"))
            .body(String::new())
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    log.flush().await;
}

#[track_caller]
fn line_seq(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

#[track_caller]
fn line_ts(line: &str) -> Timestamp {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    Timestamp::parse_rfc3339(value["ts"].as_str().unwrap()).unwrap()
}

// ----- (a) the audit stream -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_audited_requests_verify_retention_trims_to_the_millisecond_and_a_restart_continues_the_chain()
 {
    let Some(url) = redis_url() else { return };
    let prefix = Prefix::new(&url, "audit");
    let clock = ManualClock::new(T0);
    let log = AuditLog::start(
        prefix.audit_sink(),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    // Two requests per second: pairs of events share a millisecond.
    audit_requests(&log, &clock, (0..1_000).map(|i| at(i / 2 * 1_000))).await;
    assert_eq!(log.stats().written, 1_000);

    let reader = prefix.audit_sink();
    let lines = reader.read_lines().unwrap();
    assert_eq!(lines.len(), 1_000);
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(1_000)
    );
    assert_eq!(reader.head().unwrap(), log.head());
    assert_eq!(log.head().seq, 1_000);

    // Events at T0 .. T0 + 249 s are before the cutoff: 500 of them, not one more.
    assert_eq!(reader.purge_before(at(250_000)).unwrap(), 500);
    let lines = reader.read_lines().unwrap();
    assert_eq!(lines.len(), 500);
    assert_eq!(line_seq(&lines[0]), 501);
    assert_eq!(line_ts(&lines[0]), at(250_000));
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(500)
    );
    assert_eq!(reader.purge_before(at(250_000)).unwrap(), 0);
    drop(log);

    // The next process: its writer's first maintenance run trims what is now 90 days old
    // (T0 .. T0 + 299 s, 100 more), and its events continue the chain.
    clock.set(at(300_000).saturating_add(NINETY_DAYS));
    let log = AuditLog::start(
        prefix.audit_sink(),
        AuditLogConfig::new()
            .with_clock(clock.clone())
            .with_retention(NINETY_DAYS),
    )
    .unwrap();
    assert_eq!(log.head().seq, 1_000, "the chain goes on from the stream");
    eventually("the retention run", || {
        let purged = log.stats().purged;
        async move { purged == 100 }
    })
    .await;
    let later = at(300_000).saturating_add(NINETY_DAYS);
    audit_requests(
        &log,
        &clock,
        (0..10).map(|i| later.saturating_add(Duration::from_millis(i))),
    )
    .await;
    let lines = reader.read_lines().unwrap();
    assert_eq!(lines.len(), 410);
    assert_eq!(line_seq(&lines[0]), 601);
    assert_eq!(line_seq(&lines[400]), 1_001);
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(410)
    );
    assert_eq!(log.head().seq, 1_010);
    assert_eq!(reader.head().unwrap(), log.head());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_times_that_repeat_or_go_back_still_get_increasing_stream_ids() {
    let Some(url) = redis_url() else { return };
    let prefix = Prefix::new(&url, "audit-back");
    let clock = ManualClock::new(T0);
    let log = AuditLog::start(
        prefix.audit_sink(),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    let times = [
        at(10_000),
        at(5_000),
        at(5_000),
        at(0),
        at(10_000),
        at(20_000),
    ];
    audit_requests(&log, &clock, times).await;
    assert_eq!(log.stats().sink_failures, 0);
    let reader = prefix.audit_sink();
    let lines = reader.read_lines().unwrap();
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(6)
    );
    // Each line keeps its own event time; the ids never went backwards.
    let stamped: Vec<Timestamp> = lines.iter().map(|l| line_ts(l)).collect();
    assert_eq!(stamped, times);

    // Emptied by retention, the stream still refuses ids below the removed ones: new events
    // from a clock far behind are written all the same.
    assert_eq!(reader.purge_before(at(60_000)).unwrap(), 6);
    drop(log);
    let log = AuditLog::start(
        prefix.audit_sink(),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    audit_requests(&log, &clock, [at(-5_000), at(-5_000)]).await;
    assert_eq!(log.stats().sink_failures, 0);
    let lines = reader.read_lines().unwrap();
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(2)
    );
}

#[test]
fn a_batch_written_again_after_its_reply_was_lost_is_not_repeated() {
    let Some(url) = redis_url() else { return };
    let prefix = Prefix::new(&url, "audit-retry");
    let lines: Vec<ChainedLine> = (1..=4)
        .map(|seq| {
            let line = format!(r#"{{"seq":{seq},"prev":"p{seq}"}}"#);
            ChainedLine {
                seq,
                ts: at(0),
                hash: Sha256::digest(line.as_bytes()).into(),
                line,
            }
        })
        .collect();
    prefix.audit_sink().write(&lines[..2]).unwrap();
    // A sink that does not know the stream's end (fresh, or after an error) looks first: the
    // same batch again is not written twice, and a batch overlapping the end adds the rest.
    prefix.audit_sink().write(&lines[..2]).unwrap();
    prefix.audit_sink().write(&lines[1..]).unwrap();
    let written = prefix.audit_sink().read_lines().unwrap();
    let expected: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
    assert_eq!(written, expected);
}

#[test]
fn an_unreachable_redis_is_an_error_at_open_and_the_url_is_not_shown() {
    let error = RedisAuditSink::open(
        "redis://:hunter2@127.0.0.1:1/0",
        "memorysync:",
        Duration::from_millis(200),
    )
    .unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(RedisAuditSink::open("not a url", "memorysync:", TIMEOUT).is_err());
}

// ----- (b) one queue suite, two queues --------------------------------------------------------

fn delivery(id: &str, due: Timestamp) -> Delivery {
    Delivery {
        id: Arc::from(id),
        url: Arc::from("https://hooks.example.com/in"),
        event_type: Arc::from("memory.created"),
        // Not UTF-8 on purpose: the body is bytes.
        body: Bytes::from(vec![b'{', 0xff, 0x00, b'}', b'|']),
        created_at: T0,
        attempts: 0,
        due_at: due,
    }
}

fn ids(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| &*d.id).collect()
}

async fn claims_due_deliveries_oldest_due_first<Q: WebhookQueue>(queue: Q) {
    let pushed = [
        delivery("msg_a", at(3_000)),
        delivery("msg_b", at(1_000)),
        delivery("msg_c", at(2_000)),
        delivery("msg_late", at(100_000)),
    ];
    for d in &pushed {
        queue.push(d.clone()).await.unwrap();
    }
    assert_eq!(queue.pending().await.unwrap(), 4);
    let first = queue.claim_due(at(10_000), 2).await.unwrap();
    assert_eq!(ids(&first), ["msg_b", "msg_c"]);
    assert_eq!(first[0], pushed[1], "a delivery comes back as it went in");
    let second = queue.claim_due(at(10_000), 10).await.unwrap();
    assert_eq!(second, std::slice::from_ref(&pushed[0]));
    assert!(queue.claim_due(at(10_000), 10).await.unwrap().is_empty());
    assert!(queue.claim_due(at(200_000), 0).await.unwrap().is_empty());
    assert_eq!(queue.next_due().await.unwrap(), Some(at(100_000)));
    assert_eq!(queue.pending().await.unwrap(), 4);
}

async fn does_not_claim_what_is_not_yet_due<Q: WebhookQueue>(queue: Q) {
    assert_eq!(queue.next_due().await.unwrap(), None);
    queue.push(delivery("msg_soon", at(60_000))).await.unwrap();
    assert!(queue.claim_due(at(59_999), 10).await.unwrap().is_empty());
    assert_eq!(queue.next_due().await.unwrap(), Some(at(60_000)));
    let claimed = queue.claim_due(at(60_000), 10).await.unwrap();
    assert_eq!(ids(&claimed), ["msg_soon"]);
    assert_eq!(
        queue.next_due().await.unwrap(),
        None,
        "a claimed delivery is not waiting"
    );
}

async fn a_rescheduled_delivery_waits_for_its_new_due_time<Q: WebhookQueue>(queue: Q) {
    queue.push(delivery("msg_r", at(0))).await.unwrap();
    let mut claimed = queue.claim_due(at(0), 1).await.unwrap().remove(0);
    claimed.attempts = 1;
    claimed.due_at = at(5_000);
    queue.reschedule(claimed.clone()).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 1);
    assert!(queue.claim_due(at(4_999), 1).await.unwrap().is_empty());
    assert_eq!(queue.next_due().await.unwrap(), Some(at(5_000)));
    assert_eq!(queue.claim_due(at(5_000), 1).await.unwrap(), [claimed]);
}

async fn a_dead_letter_is_listed_and_replayed_with_fresh_attempts<Q: WebhookQueue>(queue: Q) {
    queue.push(delivery("msg_d", at(0))).await.unwrap();
    let mut claimed = queue.claim_due(at(0), 1).await.unwrap().remove(0);
    claimed.attempts = 8;
    let letter = DeadLetter {
        delivery: claimed,
        reason: "status 500".into(),
        at: at(1_000),
    };
    queue.dead_letter(letter.clone()).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 0);
    assert_eq!(
        queue.dead_letters().await.unwrap(),
        std::slice::from_ref(&letter)
    );
    assert!(
        !queue
            .replay("msg_other", &letter.delivery.url, at(7_000))
            .await
            .unwrap()
    );
    assert!(
        queue
            .replay("msg_d", &letter.delivery.url, at(7_000))
            .await
            .unwrap()
    );
    assert!(queue.dead_letters().await.unwrap().is_empty());
    assert!(
        !queue
            .replay("msg_d", &letter.delivery.url, at(7_000))
            .await
            .unwrap()
    );
    assert_eq!(queue.pending().await.unwrap(), 1);
    let replayed = queue.claim_due(at(7_000), 1).await.unwrap().remove(0);
    assert_eq!((replayed.attempts, replayed.due_at), (0, at(7_000)));
    assert_eq!(replayed.body, letter.delivery.body);
}

async fn release_claimed_returns_every_claim_due_now<Q: WebhookQueue>(queue: Q) {
    queue.push(delivery("msg_1", at(0))).await.unwrap();
    queue.push(delivery("msg_2", at(0))).await.unwrap();
    assert_eq!(queue.claim_due(at(0), 10).await.unwrap().len(), 2);
    assert!(queue.claim_due(at(0), 10).await.unwrap().is_empty());
    assert_eq!(queue.release_claimed(at(1_000)).await.unwrap(), 2);
    assert_eq!(queue.next_due().await.unwrap(), Some(at(1_000)));
    let again = queue.claim_due(at(1_000), 10).await.unwrap();
    let mut again_ids = ids(&again);
    again_ids.sort_unstable();
    assert_eq!(again_ids, ["msg_1", "msg_2"]);
    assert!(again.iter().all(|d| d.due_at == at(1_000)));
    for d in &again {
        queue.finish(&d.id, &d.url).await.unwrap();
    }
    assert_eq!(queue.pending().await.unwrap(), 0);
    assert_eq!(queue.release_claimed(at(2_000)).await.unwrap(), 0);
}

async fn pending_counts_waiting_and_claimed<Q: WebhookQueue>(queue: Q) {
    for id in ["msg_x", "msg_y", "msg_z"] {
        queue.push(delivery(id, at(0))).await.unwrap();
    }
    assert_eq!(queue.pending().await.unwrap(), 3);
    let claimed = queue.claim_due(at(0), 2).await.unwrap();
    assert_eq!(
        queue.pending().await.unwrap(),
        3,
        "claimed ones are still pending"
    );
    queue.finish(&claimed[0].id, &claimed[0].url).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 2);
    let letter = DeadLetter {
        delivery: claimed[1].clone(),
        reason: "410 Gone: endpoint disabled".into(),
        at: at(0),
    };
    queue.dead_letter(letter).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 1);
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
}

/// One case of the suite as two tests: over the in-memory queue, and over Redis.
macro_rules! queue_suite {
    ($($case:ident),* $(,)?) => {
        mod memory_queue {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(MemoryWebhookQueue::new()).await;
                }
            )*
        }
        mod redis_queue {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(url) = redis_url() else { return };
                    let prefix = Prefix::new(&url, stringify!($case));
                    super::$case(RedisWebhookQueue::new(prefix.connection().await)).await;
                }
            )*
        }
    };
}

queue_suite!(
    claims_due_deliveries_oldest_due_first,
    does_not_claim_what_is_not_yet_due,
    a_rescheduled_delivery_waits_for_its_new_due_time,
    a_dead_letter_is_listed_and_replayed_with_fresh_attempts,
    release_claimed_returns_every_claim_due_now,
    pending_counts_waiting_and_claimed,
);

#[tokio::test]
async fn the_redis_queue_stores_what_its_docs_say_where_they_say() {
    let Some(url) = redis_url() else { return };
    let prefix = Prefix::new(&url, "layout");
    let queue = RedisWebhookQueue::new(prefix.connection().await);
    queue.push(delivery("msg_k", at(0))).await.unwrap();
    let mut keys = prefix.keys();
    keys.sort();
    let expected: Vec<String> = ["webhook:deliveries", "webhook:waiting"]
        .iter()
        .map(|k| format!("{}{k}", prefix.prefix))
        .collect();
    assert_eq!(keys, expected);
    let claimed = queue.claim_due(at(0), 1).await.unwrap();
    queue.finish(&claimed[0].id, &claimed[0].url).await.unwrap();
    assert!(
        prefix.keys().is_empty(),
        "a finished delivery leaves nothing behind"
    );
}

#[tokio::test]
async fn claims_older_than_the_lease_go_back_to_the_queue_and_newer_ones_stay() {
    let Some(url) = redis_url() else { return };
    let prefix = Prefix::new(&url, "stale");
    let queue = RedisWebhookQueue::new(prefix.connection().await);
    // Claimed at 1 s and at 5 s by workers that then died.
    queue.push(delivery("msg_old", at(0))).await.unwrap();
    assert_eq!(
        ids(&queue.claim_due(at(1_000), 5).await.unwrap()),
        ["msg_old"]
    );
    queue.push(delivery("msg_new", at(0))).await.unwrap();
    assert_eq!(
        ids(&queue.claim_due(at(5_000), 5).await.unwrap()),
        ["msg_new"]
    );

    assert_eq!(queue.release_stale(at(999), at(6_000)).await.unwrap(), 0);
    assert_eq!(
        queue.release_stale(at(1_000), at(6_000)).await.unwrap(),
        1,
        "at the cut-off itself"
    );
    assert_eq!(queue.pending().await.unwrap(), 2, "nothing lost");
    assert!(
        queue.claim_due(at(5_999), 5).await.unwrap().is_empty(),
        "due when released"
    );
    assert_eq!(
        ids(&queue.claim_due(at(6_000), 5).await.unwrap()),
        ["msg_old"]
    );
    // The newer claim stays held by its worker.
    assert_eq!(queue.release_stale(at(4_999), at(7_000)).await.unwrap(), 0);
}

#[tokio::test]
async fn the_memory_queue_has_no_other_process_to_take_over_from() {
    let queue = MemoryWebhookQueue::new();
    queue.push(delivery("msg_a", at(0))).await.unwrap();
    assert_eq!(queue.claim_due(at(0), 1).await.unwrap().len(), 1);
    assert_eq!(
        queue.release_stale(at(10_000), at(10_000)).await.unwrap(),
        0
    );
    assert!(
        queue.claim_due(at(10_000), 1).await.unwrap().is_empty(),
        "its own claim stays"
    );
}

// ----- (c) the next process delivers what the last one left ----------------------------------

/// A loopback receiver that sends every request's headers and body to a channel.
async fn receiver() -> (Uri, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (sender, arrivals) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sender = sender.clone();
            async move {
                let _ = sender.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook").parse().unwrap(), arrivals)
}

fn settings(url: &Uri, secret: &WebhookSecret) -> WebhookSettings {
    let endpoint = Endpoint::new(url.clone(), secret.clone(), Vec::<String>::new());
    WebhookSettings::new(vec![endpoint], Environment::Development)
}

/// A transport whose receiver never answers.
fn never_answers()
-> impl tower::Service<Request<Bytes>, Response = Response<()>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    service_fn(|_: Request<Bytes>| std::future::pending::<Result<Response<()>, Infallible>>())
}

/// The first process: publishes one event on a Redis queue and sees its one attempt start
/// (against a receiver that never answers); then, `crash`ing, its runtime is dropped with the
/// claim held, or it shuts down and puts the claim back. Returns the message id.
fn first_process(
    url: &str,
    prefix: &str,
    endpoint: &Uri,
    secret: &WebhookSecret,
    crash: bool,
) -> String {
    let (url, prefix, endpoint, secret) = (
        url.to_owned(),
        prefix.to_owned(),
        endpoint.clone(),
        secret.clone(),
    );
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let id = runtime.block_on(async {
            let options = RedisOptions {
                prefix,
                timeout: TIMEOUT,
            };
            let connection = RedisConnection::connect(&url, options).await.unwrap();
            let queue = RedisWebhookQueue::new(connection);
            let webhooks =
                Webhooks::start(queue, never_answers(), settings(&endpoint, &secret)).unwrap();
            let id = webhooks.publish("memory.created", json!({ "memory": "mem_1" }));
            eventually("the first attempt", || {
                let attempts = webhooks.stats().attempts;
                async move { attempts == 1 }
            })
            .await;
            if !crash {
                webhooks.shutdown(Duration::ZERO).await;
            }
            id.to_string()
        });
        // The process ends here: with a crash, nothing more of it runs.
        drop(runtime);
        id
    })
    .join()
    .unwrap()
}

async fn next_process_delivers(crash: bool) {
    let Some(url) = redis_url() else { return };
    let prefix = Prefix::new(&url, if crash { "crash" } else { "stop" });
    let secret = WebhookSecret::generate().unwrap();
    let (endpoint, mut arrivals) = receiver().await;

    let id = tokio::task::block_in_place(|| {
        first_process(&url, &prefix.prefix, &endpoint, &secret, crash)
    });
    let queue = RedisWebhookQueue::new(prefix.connection().await);
    assert_eq!(
        queue.pending().await.unwrap(),
        1,
        "the delivery is still queued"
    );
    let claimed_key = format!("{}webhook:claimed", prefix.prefix);
    assert_eq!(
        prefix.keys().contains(&claimed_key),
        crash,
        "a crashed process leaves its claim held; a stopped one puts it back"
    );
    assert!(arrivals.try_recv().is_err(), "nothing arrived yet");

    let transport = HttpsTransport::new(Environment::Development);
    let webhooks = Webhooks::start(queue.clone(), transport, settings(&endpoint, &secret)).unwrap();
    let (headers, body) = tokio::time::timeout(PATIENCE, arrivals.recv())
        .await
        .expect("the next process delivers the webhook")
        .unwrap();
    assert_eq!(headers["webhook-id"], id.as_str());
    Verifier::new(secret)
        .verify_headers(&headers, &body, SystemClock.now())
        .unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["type"], "memory.created");
    assert_eq!(sent["data"], json!({ "memory": "mem_1" }));
    eventually("the delivery to be finished", || {
        let queue = queue.clone();
        async move { queue.pending().await.unwrap() == 0 }
    })
    .await;
    webhooks.shutdown(Duration::from_secs(1)).await;
    assert!(arrivals.try_recv().is_err(), "delivered once");
    assert!(webhooks.dead_letters().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_claimed_by_a_crashed_process_is_delivered_by_the_next_one() {
    next_process_delivers(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_left_by_a_stopped_process_is_delivered_by_the_next_one() {
    next_process_delivers(false).await;
}
