//! `WAIT`: a write acknowledged by a replica, for the writes a failover must not lose.
//!
//! Redis replicates asynchronously: a master may acknowledge a write and fail before any
//! replica has it, and the replica that takes over never saw it. `WAIT 1 <ms>` after the write
//! blocks until one replica has every write the connection made so far, or the time is up. It
//! is a second round trip, and it holds the (multiplexed) connection to that master while it
//! waits; BENCHMARKS.md measures what it costs.

use std::time::Duration;

use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use super::RedisConnection;
use crate::store::StoreError;

impl RedisConnection {
    /// Waits up to `wait` until a replica of the master holding `key` has every write made to
    /// it on this connection. One that does not acknowledge in time is a store error, so the
    /// stage applies its outage policy; the write itself stays done.
    ///
    /// `wait` is cut to half the call timeout: the connection gives up on any answer after the
    /// call timeout, and `WAIT` answers only when its time is up or a replica acknowledged.
    pub(crate) async fn wait_for_replica(
        &self,
        key: &str,
        wait: Duration,
    ) -> Result<(), StoreError> {
        let wait = wait.min(self.options().timeout / 2);
        let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut command = redis::cmd("WAIT");
        command.arg(1).arg(millis);
        let mut handle = self.manager();
        let acknowledged: i64 = self
            .timed_longer(wait, async move {
                match handle.cluster() {
                    Some(cluster) => {
                        let master = Route::with_key(key.as_bytes(), SlotAddr::Master);
                        let on_master =
                            RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(master));
                        let answer = cluster.route_command(command, on_master).await?;
                        redis::from_redis_value(answer).map_err(Into::into)
                    }
                    None => command.query_async(&mut handle).await,
                }
            })
            .await?;
        if acknowledged < 1 {
            return Err(StoreError::new(
                "redis: no replica acknowledged the write in time",
            ));
        }
        Ok(())
    }
}

/// How long a key-record write waits, on a cluster, for a replica to have it.
const KEY_WRITE_WAIT: Duration = Duration::from_millis(250);

impl RedisConnection {
    /// On a cluster, after a write of key records (a revocation above all): waits up to 250 ms
    /// (at most half the call timeout) for a replica of their master to have it, so that a failover right after cannot undo a
    /// change the admin API confirmed. Not acknowledged in time (no replica up), the change
    /// stands and a warning says what a failover now could lose. One Redis: nothing (its
    /// replicas, if any, are the operator's).
    pub(crate) async fn replicate_key_write(&self, key: &str) {
        if !self.is_cluster() {
            return;
        }
        if let Err(error) = self.wait_for_replica(key, KEY_WRITE_WAIT).await {
            tracing::warn!(
                %error,
                "a key record change is not on a replica yet: a failover now could undo it"
            );
        }
    }
}
