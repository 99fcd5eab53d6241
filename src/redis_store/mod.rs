//! The Redis stores (feature `redis`): one limit, one quota, one key set, one audit stream and
//! one webhook queue shared by every instance (section 9).
//!
//! Every store talks to Redis through one multiplexed `ConnectionManager` (it reconnects by
//! itself), with a timeout on every call. Decisions that must be atomic (rate-limit windows,
//! quota reservations with their alert marks) are Lua scripts run with the server's `TIME`, so
//! instances with skewed clocks still agree, and each costs one round trip.
//!
//! Keys are prefixed (`memorysync:` by default) so that one Redis can serve several pipelines
//! or tests side by side.

/// A Lua script kept in a `.lua` file beside the module that names it; hashed on first use.
macro_rules! lua_script {
    ($file:literal) => {
        ::std::sync::LazyLock::new(|| ::redis::Script::new(include_str!($file)))
    };
}

mod audit;
mod connection;
mod keys;
mod keyspace;
mod limiter;
mod quota;
mod tombstones;
mod webhook_queue;

pub use audit::RedisAuditSink;
pub use connection::{RedisConnection, RedisOptions};
pub use keys::RedisKeyStore;
pub use limiter::RedisRateLimitStore;
pub use quota::RedisQuotaStore;
pub use tombstones::RedisTombstones;
pub use webhook_queue::RedisWebhookQueue;
