//! A Redis that hangs (`DEBUG SLEEP`) instead of dying: the first request costs one call
//! timeout in total, not one per stage, and under `deny` service resumes within one probe
//! interval after Redis is back, even for a request that comes after a quiet spell.

use std::time::{Duration, Instant};

use memorysync_pipeline::redis_store::{RedisConnection, RedisOptions};
use memorysync_pipeline::store::StoreErrorPolicy;

use super::tenant::Tenant;
use crate::common::redis::RedisServer;

/// The call timeout of this test's connection.
const TIMEOUT: Duration = Duration::from_millis(400);

/// How often an outage is probed (`store::breaker::PROBE_EVERY`), with room for a loaded host.
const PROBE_INTERVAL_AND_SLACK: Duration = Duration::from_millis(250 + 150);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_stall_costs_one_timeout_not_three_and_deny_resumes_within_a_probe_interval() {
    let Some(redis) = RedisServer::start_debuggable() else {
        return;
    };
    redis.until_answers().await;
    let options = RedisOptions {
        timeout: TIMEOUT,
        ..RedisOptions::default()
    };
    let connection = RedisConnection::connect(&redis.url(), options)
        .await
        .unwrap();
    let local = Tenant::new(&connection, StoreErrorPolicy::Local, None).await;
    let deny = Tenant::new(&connection, StoreErrorPolicy::Deny, None).await;
    assert_eq!(local.call("GET", "/v1/memories").await, 200);
    assert_eq!(deny.call("GET", "/v1/memories").await, 200);

    // Redis hangs for 1.5 s; the reply to DEBUG SLEEP says when it is back.
    let client = redis::Client::open(redis.url()).unwrap();
    let patient = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let mut sleeper = client
        .get_multiplexed_async_connection_with_config(&patient)
        .await
        .unwrap();
    let stall = tokio::spawn(async move {
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg("1.5")
            .query_async::<()>(&mut sleeper)
            .await
            .unwrap();
    });
    // DEBUG SLEEP has no "asleep now" signal; give it a moment to reach the server.
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Keys, limits and quotas each ask Redis: the first of them to time out speaks for all.
    let started = Instant::now();
    assert_eq!(local.call("GET", "/v1/memories").await, 200);
    let first = started.elapsed();
    assert!(
        first < TIMEOUT.mul_f32(1.5),
        "the first request during the stall took {first:?}, timeout {TIMEOUT:?}"
    );
    let started = Instant::now();
    assert_eq!(deny.call("GET", "/v1/memories").await, 503);
    let refused = started.elapsed();
    assert!(
        refused < TIMEOUT / 2,
        "a stall already known is not waited for again: {refused:?}"
    );

    stall.await.unwrap();
    // Back. A quiet spell of one probe interval, then one request: it is served.
    tokio::time::sleep(PROBE_INTERVAL_AND_SLACK).await;
    assert_eq!(deny.call("GET", "/v1/memories").await, 200);
    assert_eq!(local.call("GET", "/v1/memories").await, 200);
}
