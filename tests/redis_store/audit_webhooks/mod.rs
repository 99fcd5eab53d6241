//! The Redis audit stream and webhook queue against a real Redis (`MEMORYSYNC_TEST_REDIS_URL`;
//! every case is skipped when it is not set). Covered: 1,000 audited requests written to the
//! stream and verified against the log's head, ids that stay valid when event times repeat or go
//! back, retention by `XTRIM MINID` to the millisecond (directly and from the writer), the chain
//! continued by a second `AuditLog`; the webhook queue suite run over both `MemoryWebhookQueue`
//! and `RedisWebhookQueue`; a webhook left behind by a crashed or stopped process delivered
//! by the next one to a loopback receiver; and quota alerts published while Redis is down, every
//! one delivered once it is back.
//!
//! Each case uses its own `TestPrefix` and so deletes its keys when it ends (even by a panic). Event
//! times come from a `ManualClock`; arrivals are awaited on a channel, with a generous timeout
//! only as a safety net; worker bookkeeping is polled under a deadline.

mod audit_stream;
mod backlog;
mod next_process;
mod webhook_queue;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
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

use crate::common::T0;
use crate::common::redis::TestPrefix;

/// The safety net around every wait: far longer than any case needs.
const PATIENCE: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(2);
const NINETY_DAYS: Duration = Duration::from_secs(90 * 86_400);

// ----- fixtures -----------------------------------------------------------------------------

/// The audit sink on the stream under `prefix`.
fn audit_sink(prefix: &TestPrefix) -> RedisAuditSink {
    RedisAuditSink::open(&prefix.url, &prefix.prefix, TIMEOUT).unwrap()
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
