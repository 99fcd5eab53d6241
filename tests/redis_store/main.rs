//! The stores shared by every instance (section 9 of the design), on Redis: the generic store
//! suites run against the in-memory store and the Redis store, the rate-limit script against
//! the in-memory limiter, the audit stream, the webhook queue, and a Redis killed under load.
//!
//! The cases on the shared Redis need `MEMORYSYNC_TEST_REDIS_URL` (CI sets
//! `redis://127.0.0.1:6379`); without it they print `skipped: ...` and pass. Each works under a
//! key prefix of its own and deletes its keys at the end; none flushes a database. The outage
//! and stall cases start a `redis-server` of their own. All of it goes through
//! `tests/common/redis.rs`. Only the stall case waits in real time, on Redis's own `DEBUG SLEEP`
//! and one probe interval after it, and the key cache cases, a second at most per change: the
//! deadline under test is kept by a background poll of Redis.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

#[path = "../common/mod.rs"]
mod common;

mod api_plans;
mod audit_lease;
mod audit_read;
#[cfg(feature = "webhook-client")]
mod audit_webhooks;
mod cluster;
mod data_lost;
mod deployment;
mod key_cache;
mod key_store;
mod key_upsert;
mod outage;
mod quota_store;
mod rate_limit;
mod reconcile;
mod tombstones;
#[cfg(feature = "webhook-client")]
mod webhook_endpoints;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
