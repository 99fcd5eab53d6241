//! The Redis Cluster items: `redis-cluster` (every slot covered, `cluster_state:ok`, a replica
//! for every master), read from `CLUSTER INFO` and `CLUSTER NODES` of the first seed that
//! answers, and the masters' addresses, which the durability items ask one by one.

use std::time::Duration;

use super::checks::Outcome;

/// The slots of a Redis Cluster.
const SLOTS: u32 = 16_384;

/// One node as `CLUSTER NODES` lists it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Node {
    id: String,
    /// `host:port`: no password is ever part of it.
    pub(crate) addr: String,
    master: bool,
    /// The master's id, for a replica.
    replica_of: Option<String>,
    /// Flagged `fail`, `fail?` or `noaddr`, or its link is down.
    failing: bool,
}

/// What a cluster says of itself.
#[derive(Debug, Default)]
pub(crate) struct ClusterView {
    state_ok: bool,
    slots_ok: u32,
    pub(crate) nodes: Vec<Node>,
}

impl ClusterView {
    /// Reads `CLUSTER INFO` and `CLUSTER NODES` texts.
    pub(crate) fn parse(info: &str, nodes: &str) -> ClusterView {
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        ClusterView {
            state_ok: field("cluster_state") == Some("ok"),
            slots_ok: field("cluster_slots_ok")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            nodes: nodes.lines().filter_map(Node::parse).collect(),
        }
    }

    /// The masters that serve slots and are not failing.
    pub(crate) fn live_masters(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .filter(|node| node.master && !node.failing)
    }

    /// The `redis-cluster` item.
    pub(crate) fn judge(&self) -> Outcome {
        let mut problems = Vec::new();
        if !self.state_ok {
            problems.push("cluster_state is not ok".to_owned());
        }
        if self.slots_ok < SLOTS {
            problems.push(format!(
                "{} of {SLOTS} slots are served by a healthy master",
                self.slots_ok
            ));
        }
        let alone: Vec<&str> = self
            .live_masters()
            .filter(|master| {
                !self.nodes.iter().any(|node| {
                    node.replica_of.as_deref() == Some(master.id.as_str()) && !node.failing
                })
            })
            .map(|master| master.addr.as_str())
            .collect();
        if !alone.is_empty() {
            problems.push(format!(
                "no live replica for master {}: its failure would stop its slots and lose \
                 what it held",
                alone.join(", ")
            ));
        }
        if problems.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(problems.join("; "))
        }
    }
}

impl Node {
    /// One line: `<id> <ip:port@bus[,host]> <flags> <master id|-> <ping> <pong> <epoch>
    /// <link> [slots…]`.
    fn parse(line: &str) -> Option<Node> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [id, addr, flags, master_id, _, _, _, link, ..] = fields.as_slice() else {
            return None;
        };
        let addr = addr.split(['@', ',']).next()?.to_owned();
        let flags: Vec<&str> = flags.split(',').collect();
        let has = |flag: &str| flags.contains(&flag);
        Some(Node {
            id: (*id).to_owned(),
            addr,
            master: has("master"),
            replica_of: (has("slave") && *master_id != "-").then(|| (*master_id).to_owned()),
            failing: has("fail") || has("fail?") || has("noaddr") || *link != "connected",
        })
    }
}

/// The view from the first seed that answers; `Err` names why none did (never a URL).
#[cfg(feature = "redis")]
pub(crate) async fn view(seeds: &[String], timeout: Duration) -> Result<ClusterView, String> {
    let mut why = "no seed node".to_owned();
    for seed in seeds {
        let asked = async {
            let client = redis::Client::open(seed.as_str())?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut connection)
                .await?;
            let nodes: String = redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>(ClusterView::parse(&info, &nodes))
        };
        match tokio::time::timeout(timeout, asked).await {
            Ok(Ok(view)) => return Ok(view),
            Ok(Err(error)) => why = format!("{:?}: {}", error.kind(), error.category()),
            Err(_) => why = format!("no seed answered within {timeout:?}"),
        }
    }
    Err(why)
}

/// A client for the node at `addr` (`host:port`) with the seed's credentials and TLS.
#[cfg(feature = "redis")]
pub(crate) fn node_client(seed: &str, addr: &str) -> redis::RedisResult<redis::Client> {
    use redis::IntoConnectionInfo;
    let info = seed.into_connection_info()?;
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
        .ok_or((redis::ErrorKind::Client, "unreadable node address"))?;
    let node = memorysync_pipeline::redis_store::node_connection_info(&info, host, port);
    redis::Client::open(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
a3 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
b1 127.0.0.1:7003@17003 slave a1 0 0 1 connected
b2 127.0.0.1:7004@17004 slave a2 0 0 2 connected
b3 127.0.0.1:7005@17005 slave,fail a3 0 0 3 disconnected
";

    #[test]
    fn a_healthy_cluster_passes_and_each_gap_is_named() {
        let info = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n";
        let healthy = NODES.replace(
            "slave,fail a3 0 0 3 disconnected",
            "slave a3 0 0 3 connected",
        );
        assert_eq!(ClusterView::parse(info, &healthy).judge(), Outcome::Pass);

        let Outcome::Fail(why) = ClusterView::parse(info, NODES).judge() else {
            panic!("a master without a live replica passed");
        };
        assert!(
            why.contains("no live replica for master 127.0.0.1:7002"),
            "{why}"
        );

        let down = "cluster_state:fail\r\ncluster_slots_ok:10923\r\n";
        let Outcome::Fail(why) = ClusterView::parse(down, &healthy).judge() else {
            panic!("a failed cluster passed");
        };
        assert!(why.contains("cluster_state is not ok"), "{why}");
        assert!(why.contains("10923 of 16384 slots"), "{why}");
    }

    #[test]
    fn nonsense_lines_are_skipped_and_addresses_lose_the_bus_port() {
        let view = ClusterView::parse(
            "",
            "garbage\n\nx y z\na1 10.0.0.1:6379@16379,host master - 0 0 1 connected 0-16383\n",
        );
        assert_eq!(view.nodes.len(), 1);
        assert_eq!(view.nodes[0].addr, "10.0.0.1:6379");
        assert!(matches!(view.judge(), Outcome::Fail(_)));
    }
}
