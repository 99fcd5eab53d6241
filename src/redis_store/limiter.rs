//! Rate-limit windows in Redis: the rule of `src/limit/window.rs` as one Lua script per
//! decision (`limiter.lua`), on the server's clock, so every instance enforces one limit. The
//! script checks the epoch marker before it writes: a request whose key came from the key cache
//! meets an emptied Redis here, in its first call.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

use redis::Script;

use super::RedisConnection;
use super::epoch::ScriptEpoch;
use crate::clock::Timestamp;
use crate::limit::{
    Checked, Decision, GROUPS, Limits, RateLimitStore, WindowCheck, decision_of, spans,
};
use crate::store::StoreError;

/// One decision on a key's two windows (`limiter.lua`).
static DECIDE: LazyLock<Script> = lua_script!("limiter.lua");

/// Per-key sliding windows shared through Redis. Each decision is one `EVALSHA`, which also
/// checks the epoch marker on a connection that watches one.
#[derive(Clone, Debug)]
pub struct RedisRateLimitStore {
    connection: RedisConnection,
}

impl RedisRateLimitStore {
    /// Windows kept under the connection's prefix.
    pub fn new(connection: RedisConnection) -> Self {
        RedisRateLimitStore { connection }
    }

    /// Decides at `now` instead of the server's time: for tests that replay traces.
    pub async fn check_at(
        &self,
        key_id: &str,
        limits: Limits,
        now: Timestamp,
    ) -> Result<Decision, StoreError> {
        decide(
            self.connection.clone(),
            key_id.to_owned(),
            limits,
            Some(now),
        )
        .await
    }
}

impl RateLimitStore for RedisRateLimitStore {
    type Check = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

    fn check(&self, key_id: &str, limits: Limits, _now: Timestamp) -> Self::Check {
        if limits.is_unlimited() {
            return Box::pin(std::future::ready(Ok(Decision::UNLIMITED)));
        }
        // The server's clock decides: instances with skewed clocks still agree.
        Box::pin(decide(
            self.connection.clone(),
            key_id.to_owned(),
            limits,
            None,
        ))
    }

    /// On a cluster, the slot of the key's windows: a master down refuses only its keys.
    fn outage_shard(&self, key_id: &str) -> usize {
        if !self.connection.is_cluster() {
            return 0;
        }
        self.connection.keyspace().rate_limit_slot(key_id)
    }
}

async fn decide(
    connection: RedisConnection,
    key_id: String,
    limits: Limits,
    now: Option<Timestamp>,
) -> Result<Decision, StoreError> {
    let limit_arg = |limit: Option<u32>| limit.map_or(-1, i64::from);
    let (second, minute) = spans(limits);
    let (second_quota, minute_quota) = (limits.per_second_quota(), limits.per_minute_quota());
    let epoch = connection.script_epoch()?;
    let windows = connection.keyspace().rate_limit_windows(&key_id);
    let mut invocation = DECIDE.prepare_invoke();
    invocation
        .key(&windows)
        .key(epoch.key(&windows[0]))
        .arg(limit_arg(second_quota))
        .arg(limit_arg(minute_quota))
        .arg(GROUPS)
        .arg(now.map_or(String::new(), |t| t.unix_millis().to_string()))
        .arg(second.length_ms)
        .arg(second.unit_ms())
        .arg(minute.length_ms)
        .arg(minute.unit_ms())
        .arg(epoch.expected());
    let mut manager = connection.manager();
    let answer: Vec<i64> = connection
        .timed(async move { invocation.invoke_async(&mut manager).await })
        .await?;
    if answer == [ScriptEpoch::MISMATCH] {
        return Err(epoch.mismatch());
    }
    let [
        admitted,
        s_on,
        s_fits,
        s_live,
        s_wait,
        s_reset,
        m_on,
        m_fits,
        m_live,
        m_wait,
        m_reset,
    ] = answer[..]
    else {
        return Err(StoreError::new(
            "redis rate-limit script answered in an unknown shape",
        ));
    };
    let window =
        |on: i64, fits: i64, live: i64, wait: i64, reset: i64, limit: Option<u32>, span| {
            (on == 1).then(|| Checked {
                limit: limit.unwrap_or(0),
                span,
                check: WindowCheck {
                    live_count: u64::try_from(live).unwrap_or(0),
                    fits: fits == 1,
                    wait_ms: wait,
                    reset_ms: reset,
                },
            })
        };
    Ok(decision_of(
        window(s_on, s_fits, s_live, s_wait, s_reset, second_quota, second),
        window(m_on, m_fits, m_live, m_wait, m_reset, minute_quota, minute),
        admitted == 1,
    ))
}
