//! The per-attempt delivery log: its contract on memory and the embedded store, retention by
//! age on both (and the memory log's bound), and a deployment writing every attempt its worker
//! sends, with the status, the latency and an error that holds no secret.

use std::time::Duration;

use memorysync_pipeline::clock::ManualClock;
use memorysync_pipeline::webhook::WebhookSecret;
use memorysync_pipeline::webhook::attempt_log::{
    AttemptLog, AttemptQuery, AttemptRecord, MemoryAttemptLog, StatusFilter,
};
use memorysync_pipeline::webhook::endpoints::SecretKey;

use super::*;
use crate::common::suites::attempt_log_suite;

const DAY: Duration = Duration::from_secs(86_400);

fn attempt(at: memorysync_pipeline::clock::Timestamp, message: &str) -> AttemptRecord {
    AttemptRecord::new(at, "ep_a", message, "webhook.test", Some(200), 1, None)
}

async fn messages(log: &impl AttemptLog) -> Vec<String> {
    let query = AttemptQuery {
        limit: 1000,
        ..AttemptQuery::default()
    };
    let page = log.query(&query).await.unwrap();
    page.items.iter().map(|a| a.message.to_string()).collect()
}

#[tokio::test]
async fn the_memory_log_keeps_its_contract_its_retention_and_its_bound() {
    attempt_log_suite(&MemoryAttemptLog::new(90 * DAY), T0).await;

    let log = MemoryAttemptLog::new(DAY);
    log.record(attempt(T0, "old")).await.unwrap();
    log.record(attempt(T0.saturating_add(DAY), "day"))
        .await
        .unwrap();
    let later = T0.saturating_add(DAY + Duration::from_millis(1));
    log.record(attempt(later, "new")).await.unwrap();
    assert_eq!(
        messages(&log).await,
        ["new", "day"],
        "older than a day is purged"
    );

    let small = MemoryAttemptLog::new(DAY).with_capacity(2);
    for n in 0..5 {
        small.record(attempt(T0, &format!("m{n}"))).await.unwrap();
    }
    assert_eq!(messages(&small).await, ["m4", "m3"]);
    assert_eq!(small.evicted(), 3);
}

#[test]
fn status_filters_read_as_the_admin_api_writes_them() {
    assert_eq!("delivered".parse(), Ok(StatusFilter::Delivered));
    assert_eq!("failed".parse(), Ok(StatusFilter::Failed));
    assert_eq!("503".parse(), Ok(StatusFilter::Code(503)));
    for bad in ["", "ok", "99", "600", "0503", "2000", "-1", "50x"] {
        assert!(bad.parse::<StatusFilter>().is_err(), "{bad}");
    }
}

#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_log_keeps_its_contract_across_a_reopen_and_purges_by_age() {
    use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    attempt_log_suite(&store.webhook_attempts(90 * DAY), T0).await;
    store.close().await;
    drop(store);

    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    let log = store.webhook_attempts(DAY);
    assert_eq!(messages(&log).await.len(), 30, "kept across a reopen");
    // Two days on: the next attempt purges everything older than a day.
    let later = T0.saturating_add(2 * DAY);
    log.record(attempt(later, "later")).await.unwrap();
    eventually("the old attempts are purged", async || {
        messages(&log).await == ["later"]
    })
    .await;
    // New sequence numbers after a reopen: nothing was overwritten.
    log.record(attempt(later, "same millisecond"))
        .await
        .unwrap();
    eventually("both are there", async || messages(&log).await.len() == 2).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_logs_every_attempt_with_its_status_latency_and_error() {
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let deployment = start(
        &config("", true, &[]),
        options(Some(&key), &WebhookSecret::generate().unwrap(), &clock),
    )
    .await;
    let mut hook = Hook::start().await;
    let endpoints = deployment.endpoints();
    let (view, _) = endpoints
        .create(new_endpoint(None, &hook.url("/in")))
        .await
        .unwrap();
    // A receiver that is not there: no status, an error that names the failure.
    let (absent, _) = endpoints
        .create(new_endpoint(None, "http://127.0.0.1:9/absent"))
        .await
        .unwrap();

    hook.answer(503);
    let message = publish(&deployment, "proj_a", 1);
    hook.next().await;
    let hooks = deployment.webhooks().unwrap();
    eventually("both retries are scheduled", async || {
        hooks.stats().retries == 2
    })
    .await;
    hook.answer(200);
    clock.advance(Duration::from_secs(60));
    hook.next().await;

    let log = deployment.webhook_attempts();
    let of = |endpoint: &str, status: Option<StatusFilter>| AttemptQuery {
        endpoint: Some(endpoint.to_owned()),
        status,
        ..AttemptQuery::default()
    };
    eventually("three attempts are logged", async || {
        let mine = log.query(&of(&view.id, None)).await.unwrap().items.len();
        let theirs = log.query(&of(&absent.id, None)).await.unwrap().items.len();
        mine == 2 && theirs >= 1
    })
    .await;
    let mine = log.query(&of(&view.id, None)).await.unwrap().items;
    assert_eq!(mine[0].status, Some(200), "newest first: {mine:?}");
    assert_eq!(
        (mine[0].error.as_deref(), mine[0].at),
        (None, T0.saturating_add(Duration::from_secs(60)))
    );
    assert_eq!(
        (mine[1].status, mine[1].error.as_deref()),
        (Some(503), Some("status 503"))
    );
    assert!(
        mine.iter()
            .all(|a| *a.message == *message && &*a.event_type == "quota.exhausted")
    );
    let failed = log
        .query(&of(&view.id, Some(StatusFilter::Failed)))
        .await
        .unwrap()
        .items;
    assert_eq!(failed.len(), 1);

    let theirs = log.query(&of(&absent.id, None)).await.unwrap().items;
    assert_eq!(theirs[0].status, None);
    let error = theirs[0].error.as_deref().unwrap();
    assert!(error.starts_with("transport"), "{error}");
    assert!(
        !error.contains("whsec_") || error.contains("[redacted]"),
        "{error}"
    );
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}
