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
    pub(crate) async fn wait_for_replica(
        &self,
        key: &str,
        wait: Duration,
    ) -> Result<(), StoreError> {
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
