//! One handle on the shared connection, to a single Redis or to a Redis Cluster, usable
//! wherever the `redis` crate takes an async connection.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A handle for one call (cheap to clone: both connections are multiplexed).
///
/// On a cluster, commands go to the master of their keys' slot, and `MOVED`/`ASK` redirections
/// (a resharding, a failover) are followed by the `redis` crate. One command is routed here
/// instead: `SCRIPT LOAD`, which a script's first call on a node sends after `NOSCRIPT`. The
/// crate sends it to every node and fails when any is down, so a script would fail on healthy
/// masters during another master's outage; here it goes to every master and succeeds when one
/// took it, and the call that needed it is retried on its own master.
#[derive(Clone)]
pub enum RedisHandle {
    /// One Redis, reconnecting by itself.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisHandle::Single(_) => "RedisHandle::Single",
            RedisHandle::Cluster(_) => "RedisHandle::Cluster",
        })
    }
}

impl RedisHandle {
    /// The cluster connection, on a cluster.
    pub(crate) fn cluster(&mut self) -> Option<&mut ClusterConnection> {
        match self {
            RedisHandle::Single(_) => None,
            RedisHandle::Cluster(cluster) => Some(cluster),
        }
    }
}

impl ConnectionLike for RedisHandle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisHandle::Single(single) => single.req_packed_command(cmd),
            RedisHandle::Cluster(cluster) => {
                if is_script_load(cmd) {
                    let routing = RoutingInfo::MultiNode((
                        MultipleNodeRoutingInfo::AllMasters,
                        Some(ResponsePolicy::OneSucceeded),
                    ));
                    Box::pin(cluster.route_command(cmd.clone(), routing))
                } else {
                    cluster.req_packed_command(cmd)
                }
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisHandle::Single(single) => single.req_packed_commands(pipeline, offset, count),
            RedisHandle::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisHandle::Single(single) => single.get_db(),
            RedisHandle::Cluster(cluster) => cluster.get_db(),
        }
    }
}

/// Whether `cmd` is `SCRIPT LOAD`.
fn is_script_load(cmd: &Cmd) -> bool {
    let mut args = cmd.args_iter().map(|arg| match arg {
        redis::Arg::Simple(bytes) => bytes,
        _ => b"",
    });
    matches!(
        (args.next(), args.next()),
        (Some(first), Some(second))
            if first.eq_ignore_ascii_case(b"SCRIPT") && second.eq_ignore_ascii_case(b"LOAD")
    )
}

#[cfg(test)]
mod tests {
    use super::is_script_load;

    #[test]
    fn only_script_load_is_rerouted() {
        let mut load = redis::cmd("script");
        load.arg("load").arg("return 1");
        assert!(is_script_load(&load));
        let mut exists = redis::cmd("SCRIPT");
        exists.arg("EXISTS").arg("abc");
        assert!(!is_script_load(&exists));
        assert!(!is_script_load(&redis::cmd("SCRIPT")));
        assert!(!is_script_load(&redis::cmd("GET")));
    }
}
