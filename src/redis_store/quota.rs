//! `RedisQuotaStore`: quota counters and alert-once marks shared by every instance.
//!
//! What is stored where (under the connection's prefix):
//! - `quota:<project>:<operation>:<YYYY-MM>`: the units used, an integer;
//! - `alert:<project>:<operation>:<YYYY-MM>:<percent>`: `1` once that threshold's alert fired.
//!
//! Both expire 62 days after they are first written, so a month stays readable through the next
//! one and old months vanish by themselves. The names come from the
//! [keyspace](super::keyspace), which escapes project ids so that no project name can reach
//! another project's keys.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;
use tokio::sync::Notify;

use super::RedisConnection;
use super::epoch::ScriptEpoch;
use crate::quota::{AlertThresholds, QuotaKey, QuotaStore, Reservation};
use crate::store::StoreError;

/// How long counters and marks are kept: two months of 31 days.
const KEEP_SECS: u64 = 62 * 86_400;

/// Takes a unit unless exhausted and marks the thresholds crossed (`quota_reserve.lua`).
static RESERVE: LazyLock<Script> = lua_script!("quota_reserve.lua");

/// Gives back one unit, never going below zero (`quota_refund.lua`).
static REFUND: LazyLock<Script> = lua_script!("quota_refund.lua");

/// The future of [`RedisQuotaStore::reserve`](QuotaStore::reserve): one script call.
type ReserveFuture = Pin<Box<dyn Future<Output = Result<Reservation, StoreError>> + Send>>;

/// Quota counters and alert marks in Redis: one script call per reservation, which also checks
/// the epoch marker on a connection that watches one. Clones share one connection.
#[derive(Clone, Debug)]
pub struct RedisQuotaStore {
    connection: RedisConnection,
    refunds: Arc<Refunds>,
    /// How long a reservation waits for a replica's acknowledgement; `None`: it does not.
    replica_wait: Option<Duration>,
}

/// Refunds handed to the background and not finished yet.
#[derive(Debug, Default)]
struct Refunds {
    in_flight: AtomicUsize,
    done: Notify,
}

impl RedisQuotaStore {
    /// A store on `connection`.
    pub fn new(connection: RedisConnection) -> Self {
        RedisQuotaStore {
            connection,
            refunds: Arc::default(),
            replica_wait: None,
        }
    }

    /// Makes each reservation wait up to `wait` (at most half the connection's call timeout:
    /// 250 ms by default) until a replica acknowledges it (`WAIT 1`, a second round trip), so
    /// that a failover cannot lose a unit a request was admitted on. A
    /// reservation not acknowledged in time fails as a store error (`store.on_store_error`
    /// applies) and stays counted. Without it, a failover may lose the reservations of the
    /// replication lag (README, "Several instances").
    #[must_use]
    pub fn with_replica_wait(mut self, wait: Duration) -> Self {
        self.replica_wait = Some(wait);
        self
    }

    /// Waits until every refund started so far reached Redis or failed (and was logged).
    ///
    /// [`QuotaStore::refund`] returns at once and runs in the background; tests and graceful
    /// shutdowns call this to know the counters are final.
    pub async fn settle_refunds(&self) {
        loop {
            let done = self.refunds.done.notified();
            tokio::pin!(done);
            // Registered before the check, so a refund finishing in between still wakes us.
            done.as_mut().enable();
            if self.refunds.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }

    fn counter_key(&self, key: &QuotaKey) -> String {
        self.connection.keyspace().quota_counter(key)
    }
}

impl QuotaStore for RedisQuotaStore {
    type Reserve = ReserveFuture;

    fn reserve(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Self::Reserve {
        let counter = self.counter_key(key);
        let mut marks = Vec::new();
        let mut crossings = Vec::new();
        let mut percents = Vec::new();
        for percent in thresholds.iter() {
            marks.push(self.connection.keyspace().alert_mark(key, percent));
            crossings.push(crossing_count(percent, limit));
            // Widened: a `Vec<u8>` would go to Redis as one binary string.
            percents.push(u16::from(percent));
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.connection.clone();
        let replica_wait = self.replica_wait;
        Box::pin(async move {
            let epoch = connection.script_epoch()?;
            let mut invocation = RESERVE.key(&counter);
            invocation.key(epoch.key(&counter)).key(&marks);
            invocation.arg(limit).arg(KEEP_SECS).arg(epoch.expected());
            invocation.arg(&crossings).arg(&percents);
            let mut manager = connection.manager();
            let answer: Vec<i64> = connection
                .timed(invocation.invoke_async(&mut manager))
                .await?;
            if answer == [ScriptEpoch::MISMATCH] {
                return Err(epoch.mismatch());
            }
            let Some((&used, newly_marked)) = answer.split_first() else {
                return Err(StoreError::new("redis: empty answer from the quota script"));
            };
            if used <= 0 {
                return Ok(Reservation::Exhausted);
            }
            if let Some(wait) = replica_wait {
                connection.wait_for_replica(&counter, wait).await?;
            }
            Ok(Reservation::Reserved {
                used: used.unsigned_abs(),
                alerts: AlertThresholds::new(
                    newly_marked
                        .iter()
                        .filter_map(|percent| u8::try_from(*percent).ok()),
                ),
            })
        })
    }

    /// On a cluster, the slot of the project's counters: a master down meters only its
    /// projects by the outage policy.
    fn outage_shard(&self, key: &QuotaKey) -> usize {
        if !self.connection.is_cluster() {
            return 0;
        }
        self.connection.keyspace().quota_slot(key)
    }

    fn refund(&self, key: &QuotaKey) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                project = %key.project,
                operation = %key.operation,
                "quota refund dropped: no tokio runtime to send it to redis"
            );
            return;
        };
        let counter = self.counter_key(key);
        let connection = self.connection.clone();
        let refunds = Arc::clone(&self.refunds);
        let (project, operation) = (Arc::clone(&key.project), key.operation);
        refunds.in_flight.fetch_add(1, Ordering::AcqRel);
        runtime.spawn(async move {
            let mut manager = connection.manager();
            let refunded: Result<i64, _> = connection
                .timed(REFUND.key(&counter).invoke_async(&mut manager))
                .await;
            if let Err(error) = refunded {
                tracing::warn!(%project, %operation, %error, "quota refund lost");
            }
            refunds.in_flight.fetch_sub(1, Ordering::AcqRel);
            refunds.done.notify_waiters();
        });
    }

    fn used(&self, key: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let counter = self.counter_key(key);
        let connection = self.connection.clone();
        async move {
            let mut manager = connection.manager();
            let used: Option<u64> = connection
                .timed(
                    redis::cmd("GET")
                        .arg(&counter)
                        .query_async::<Option<u64>>(&mut manager),
                )
                .await?;
            Ok(used.unwrap_or(0))
        }
    }
}

/// The count whose reservation crosses `percent` of `limit`: the least `used` with
/// `used * 100 >= percent * limit`, the rule of [`AlertThresholds::crossed_by`].
fn crossing_count(percent: u8, limit: u64) -> i64 {
    let count = (u128::from(percent) * u128::from(limit)).div_ceil(100);
    // A zero limit is exhausted before any crossing; `0` never equals a count after INCR.
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_counts_follow_crossed_by() {
        for limit in [1u64, 3, 4, 7, 100, 1001] {
            let thresholds = AlertThresholds::new([1, 33, 75, 90, 99, 100]);
            for used in 1..=limit {
                let expected: Vec<u8> = thresholds.crossed_by(used, limit).iter().collect();
                let by_count: Vec<u8> = thresholds
                    .iter()
                    .filter(|p| crossing_count(*p, limit) == i64::try_from(used).unwrap_or(0))
                    .collect();
                assert_eq!(by_count, expected, "limit {limit}, used {used}");
            }
        }
    }
}
