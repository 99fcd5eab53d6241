//! The Redis stores (feature `redis`): rate-limit windows, quota counters, API keys,
//! tombstones, the plans the admin API manages, the audit stream and the webhook queue, shared
//! by every instance (section 9).
//!
//! Every store talks to Redis through one multiplexed handle ([`RedisHandle`]: a
//! `ConnectionManager` that reconnects by itself, or a Redis Cluster connection that follows
//! `MOVED`/`ASK` and failovers), with a timeout on every call; the key store's cache also holds a pub/sub
//! subscription of its own. An admitted request costs two round trips, its rate limit and its
//! quota: key records come from a cache in each process, and **a change made on any instance
//! is seen everywhere within one second** (see [`RedisKeyStore`] for the rule, and what
//! happens while Redis does not answer). Each check-and-write that must be atomic (a
//! rate-limit decision, a quota reservation with its alert marks, a key insert or upsert, a
//! webhook claim, a config reconciliation's claim) is one Lua script, kept in a `.lua` file beside its store with its `KEYS` and `ARGV`
//! described at the top; scripts that need the time read the server's `TIME`, so instances
//! with skewed clocks still agree.
//!
//! Every key name comes from one keyspace (`keyspace.rs`): under a prefix (`memorysync:` by
//! default, so that one Redis can serve several pipelines or tests side by side), with ids
//! escaped one-to-one, so no two ids share a key; on a cluster, hash tags keep each operation's
//! keys in one slot. Outages are the business of
//! [`WithFallback`](crate::store::WithFallback), in front of any of these stores; a Redis that
//! lost its data is one too, noticed through the epoch marker
//! ([`RedisConnection::watch_epoch`]), which every request's first call checks: the rate-limit
//! and quota scripts before they write, a key look-up in its pipeline.

/// A Lua script kept in a `.lua` file beside the module that names it; hashed on first use.
macro_rules! lua_script {
    ($file:literal) => {
        ::std::sync::LazyLock::new(|| ::redis::Script::new(include_str!($file)))
    };
}

mod audit;
mod audit_lease;
pub(crate) mod audit_read;
mod config_version;
mod connection;
mod epoch;
mod handle;
mod keys;
mod keyspace;
mod limiter;
mod plans;
mod quota;
mod replica_wait;
mod stall;
mod sync_target;
mod tombstones;
mod webhook_attempts;
mod webhook_endpoints;
mod webhook_queue;

pub use audit::RedisAuditSink;
pub use audit_lease::AUDIT_LEASE;
pub use config_version::RedisConfigVersions;
pub use connection::{RedisConnection, RedisOptions};
pub use epoch::{Epoch, EpochMarker, EpochOrigin, EpochStart};
pub use handle::RedisHandle;
pub use keys::{KeyCacheOptions, RedisKeyLookup, RedisKeyStore};
pub use limiter::RedisRateLimitStore;
pub use plans::RedisPlanStore;
pub use quota::RedisQuotaStore;
pub use sync_target::node_connection_info;
pub use tombstones::RedisTombstones;
pub use webhook_attempts::RedisAttemptLog;
pub use webhook_endpoints::RedisEndpointStore;
pub use webhook_queue::RedisWebhookQueue;

/// 128 random bits as 32 lowercase hex digits: a lease owner's token, an epoch id.
pub(crate) fn random_hex128() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{:032x}", u128::from_be_bytes(bytes)))
}
