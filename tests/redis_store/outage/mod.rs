//! A Redis that is killed under load and comes back: each `on_store_error` policy does what it
//! says for keys, rate limits and quotas together, no request ends in a 500 or a panic, and
//! `/health` turns degraded and then ok again. Starts its own durable `redis-server` on a free
//! port (`RedisServer::start_durable`), so that what Redis held survives the kill as it would in
//! production.

mod stall;
pub(crate) mod tenant;

use std::time::Duration;

use memorysync_pipeline::redis_store::{RedisConnection, RedisOptions};
use memorysync_pipeline::store::StoreErrorPolicy;
use tenant::{Load, Tenant};

use crate::common::redis::RedisServer;

/// The same five requests for every tenant: two adds against a plan of one add a month, then
/// three queries against a limit of four requests a minute.
const SCRIPT: [(&str, &str); 5] = [
    ("POST", "/v1/memories"),
    ("POST", "/v1/memories"),
    ("GET", "/v1/memories"),
    ("GET", "/v1/memories"),
    ("GET", "/v1/memories"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_limits_and_quotas_ride_out_a_redis_killed_under_load_under_each_policy() {
    let Some(mut redis) = RedisServer::start_durable() else {
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
    let local = Tenant::new(&connection, StoreErrorPolicy::Local, Some(4)).await;
    let allow = Tenant::new(&connection, StoreErrorPolicy::Allow, Some(4)).await;
    let deny = Tenant::new(&connection, StoreErrorPolicy::Deny, Some(4)).await;
    // Spends its one add of the month while Redis is up, and is not used again until after.
    let spent = Tenant::new(&connection, StoreErrorPolicy::Local, None).await;
    // A key in Redis that the `local` tenant's process never looked up.
    let unseen = local.unseen_key(&connection).await;

    // Redis up: one add stored, the second degraded (200, inner not called); 4 a minute.
    assert_eq!(local.health().await, (200, r#"{"status":"ok"}"#.to_owned()));
    for tenant in [&local, &allow, &deny] {
        assert_eq!(tenant.run(&SCRIPT).await, [200, 200, 200, 200, 429]);
        assert_eq!(tenant.inner_calls(), 3, "{:?}", tenant.policy);
    }
    assert_eq!(spent.run(&SCRIPT[..1]).await, [200]);

    // Load on a fourth tenant (local, no limits) while Redis is killed and restarted.
    let load = Load::start(
        Tenant::new(&connection, StoreErrorPolicy::Local, None).await,
        2,
    );
    load.until_served(20).await;
    redis.kill();
    let served_before_outage = load.served();

    let (status, health) = local.health().await;
    assert_eq!(status, 200);
    assert!(
        health.contains(r#""status":"degraded""#) && health.contains(r#""redis":"unreachable""#),
        "{health}"
    );
    // local: the key's last known record, and fresh per-instance limits and quotas.
    assert_eq!(local.run(&SCRIPT).await, [200, 200, 200, 200, 429]);
    assert_eq!(
        local.inner_calls(),
        6,
        "one add and two queries served locally"
    );
    // A key this process has never seen cannot be checked: 503, never admitted.
    assert_eq!(local.call_with(&unseen, "GET", "/v1/memories").await, 503);
    // allow: nothing counted, everything served.
    assert_eq!(allow.run(&SCRIPT).await, [200; 5]);
    assert_eq!(allow.inner_calls(), 8);
    // deny: 503 store_unavailable, the inner service untouched.
    assert_eq!(deny.run(&SCRIPT).await, [503; 5]);
    assert_eq!(deny.inner_calls(), 3);
    load.until_served(served_before_outage + 20).await;

    redis.restart();
    redis.until_answers().await;
    let mut recovered = false;
    // Each probe is bounded by the call timeout; the reconnection needs a few.
    for _ in 0..100 {
        if local.health().await.1 == r#"{"status":"ok"}"# {
            recovered = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(recovered, "health did not come back");
    let statuses = load.stop().await;
    assert!(
        statuses.iter().all(|status| *status == 200),
        "the loaded key was served throughout: {:?}",
        statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>()
    );

    // Redis decides again, with what it held before the kill: the month's add is used up
    // (a local count, fresh, would have let it through).
    assert_eq!(spent.run(&SCRIPT[..2]).await, [200, 200]);
    assert_eq!(spent.inner_calls(), 1, "degraded by Redis's counter, twice");
}
