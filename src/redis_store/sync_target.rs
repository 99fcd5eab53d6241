//! Where a synchronous connection of its own goes (the audit sink, its lease, its readers):
//! the one Redis, or on a cluster the master that serves one key's slot.
//!
//! The audit sink writes a batch as one `MULTI`/`EXEC` on a blocking thread, which the `redis`
//! crate's synchronous cluster connection does not offer; a plain connection to the slot's
//! master does, since the stream, its lease and its head share one hash tag. The master is
//! asked of the seeds on every connect, and the sink connects again after any error, so a
//! failover (the old master refusing, or answering `MOVED`) is followed on the next write.

use std::sync::Arc;
use std::time::Duration;

use redis::{ConnectionAddr, ErrorKind, RedisResult};

use crate::config::RedisTarget;

/// A synchronous connection's destination.
#[derive(Clone)]
pub(crate) enum SyncTarget {
    /// One Redis.
    Single(redis::Client),
    /// The master serving `key`'s slot, found through `seeds`.
    SlotOf {
        seeds: Arc<[redis::Client]>,
        key: String,
    },
}

impl SyncTarget {
    /// The destination of connections that touch `key` (and keys of its hash tag).
    pub(crate) fn new(target: &RedisTarget, key: &str) -> RedisResult<Self> {
        match target {
            RedisTarget::Single(url) => Ok(SyncTarget::Single(redis::Client::open(url.as_str())?)),
            RedisTarget::Cluster(seeds) => {
                let seeds = seeds
                    .iter()
                    .map(|url| redis::Client::open(url.as_str()))
                    .collect::<RedisResult<Vec<_>>>()?;
                Ok(SyncTarget::SlotOf {
                    seeds: seeds.into(),
                    key: key.to_owned(),
                })
            }
        }
    }

    /// The same destination for another key of the same hash tag.
    pub(crate) fn for_key(&self, key: &str) -> SyncTarget {
        match self {
            SyncTarget::Single(client) => SyncTarget::Single(client.clone()),
            SyncTarget::SlotOf { seeds, .. } => SyncTarget::SlotOf {
                seeds: Arc::clone(seeds),
                key: key.to_owned(),
            },
        }
    }

    /// A connection with `timeout` on connecting, reading and writing.
    pub(crate) fn connect(&self, timeout: Duration) -> RedisResult<redis::Connection> {
        let connection = match self {
            SyncTarget::Single(client) => client.get_connection_with_timeout(timeout)?,
            SyncTarget::SlotOf { seeds, key } => {
                // The first seed that answers; the last refusal when none does.
                let mut answer = Err((ErrorKind::Client, "no cluster seed node").into());
                for seed in seeds.iter() {
                    answer = master_of(seed, key, timeout);
                    if answer.is_ok() {
                        break;
                    }
                }
                answer?
            }
        };
        connection.set_read_timeout(Some(timeout))?;
        connection.set_write_timeout(Some(timeout))?;
        Ok(connection)
    }
}

/// A connection to the master serving `key`'s slot, asked of `seed`, with the seed's
/// credentials and TLS settings.
fn master_of(seed: &redis::Client, key: &str, timeout: Duration) -> RedisResult<redis::Connection> {
    let mut asked = seed.get_connection_with_timeout(timeout)?;
    asked.set_read_timeout(Some(timeout))?;
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut asked)?;
    let ranges: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut asked)?;
    let (host, port) = ranges
        .iter()
        .find_map(|range| serving(range, slot))
        .ok_or((ErrorKind::Client, "no master serves the slot"))?;
    let master = node_connection_info(seed.get_connection_info(), host, port);
    redis::Client::open(master)?.get_connection_with_timeout(timeout)
}

/// The connection settings of `seed` (credentials, database, TLS) for another node of its
/// cluster, at `host:port`: what a cluster's `CLUSTER SLOTS` or `CLUSTER NODES` names.
pub fn node_connection_info(
    seed: &redis::ConnectionInfo,
    host: String,
    port: u16,
) -> redis::ConnectionInfo {
    let addr = match seed.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host, port),
    };
    seed.clone().set_addr(addr)
}

/// The master's host and port when `range` (one `CLUSTER SLOTS` entry: start, end, master,
/// replicas…) holds `slot`.
fn serving(range: &redis::Value, slot: u16) -> Option<(String, u16)> {
    let redis::Value::Array(fields) = range else {
        return None;
    };
    let [start, end, master, ..] = fields.as_slice() else {
        return None;
    };
    let number = |value: &redis::Value| match value {
        redis::Value::Int(n) => u16::try_from(*n).ok(),
        _ => None,
    };
    if !(number(start)?..=number(end)?).contains(&slot) {
        return None;
    }
    let redis::Value::Array(node) = master else {
        return None;
    };
    match node.as_slice() {
        [redis::Value::BulkString(host), port, ..] => {
            Some((String::from_utf8(host.clone()).ok()?, number(port)?))
        }
        _ => None,
    }
}
