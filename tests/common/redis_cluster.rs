//! A Redis Cluster of the test's own: three masters and three replicas, each a `redis-server`
//! on a free port whose cluster bus port (port + 10000) is free too, joined by
//! `redis-cli --cluster create … --cluster-replicas 1`. Stopped and its files deleted on drop.
//!
//! `None` (with a printed line) where `redis-server` or `redis-cli` is not installed, unless
//! CI names a Redis (`MEMORYSYNC_TEST_REDIS_URL`), where both must be found.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a node may not answer before the others call it failed: what a failover waits.
/// Two seconds: short enough for a quick test, long enough that nodes starved of CPU by the
/// tests beside them are not taken for failed.
pub(crate) const NODE_TIMEOUT_MS: u64 = 2_000;

/// The variable naming the shared test Redis: where it is set, the tools must be there.
const REDIS_URL_VAR: &str = "MEMORYSYNC_TEST_REDIS_URL";

/// One node's process.
#[derive(Debug)]
struct Node {
    port: u16,
    child: Option<Child>,
}

/// Six nodes: three masters, three replicas.
#[derive(Debug)]
pub(crate) struct RedisCluster {
    dir: PathBuf,
    nodes: Vec<Node>,
    /// One cluster of a test process at a time: six servers each, beside the other tests on
    /// two cores, would starve one another's calls past their timeouts.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

/// Whose turn it is to run a cluster in this process.
static TURN: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(std::sync::Arc::default);

impl RedisCluster {
    /// Starts six nodes, joins them, and waits until every slot is served and every replica is
    /// in sync (a replica that never synced cannot take over).
    pub(crate) async fn start() -> Option<RedisCluster> {
        let dir = tempfile::Builder::new()
            .prefix("memorysync-cluster-")
            .tempdir()
            .unwrap()
            .keep();
        let mut cluster = RedisCluster {
            dir,
            nodes: Vec::new(),
            _turn: std::sync::Arc::clone(&TURN).lock_owned().await,
        };
        for port in free_port_pairs(6) {
            match cluster.spawn(port) {
                Ok(child) => cluster.nodes.push(Node {
                    port,
                    child: Some(child),
                }),
                Err(error) => {
                    assert!(
                        std::env::var(REDIS_URL_VAR).is_err(),
                        "redis-server must be on PATH where {REDIS_URL_VAR} is set: {error}"
                    );
                    println!("skipped: redis-server is not available ({error})");
                    return None;
                }
            }
        }
        for node in &cluster.nodes {
            until_answers(node.port).await;
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output();
        let created = match created {
            Ok(output) => output,
            Err(error) => {
                assert!(
                    std::env::var(REDIS_URL_VAR).is_err(),
                    "redis-cli must be on PATH where {REDIS_URL_VAR} is set: {error}"
                );
                println!("skipped: redis-cli is not available ({error})");
                return None;
            }
        };
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        cluster.until_healthy().await;
        Some(cluster)
    }

    fn spawn(&self, port: u16) -> std::io::Result<Child> {
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir)?;
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
            // A replica takes over however long it was cut off: a test kills masters at will.
            .args(["--cluster-replica-validity-factor", "0"])
            // The masters that are up keep serving their slots while one is down (the README's
            // advice): by default every master refuses until the failover is done.
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }

    /// The seed URLs: every node.
    pub(crate) fn seeds(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect()
    }

    /// `redis_url = [...]` for a config file.
    pub(crate) fn toml_seeds(&self) -> String {
        let quoted: Vec<String> = self
            .seeds()
            .iter()
            .map(|url| format!("\"{url}\""))
            .collect();
        format!("[{}]", quoted.join(", "))
    }

    /// A plain connection to the node on `port`.
    pub(crate) fn node(&self, port: u16) -> redis::Connection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let connection = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap();
        connection
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        connection
    }

    /// Ports of the live nodes.
    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|node| node.child.is_some())
            .map(|node| node.port)
            .collect()
    }

    /// The masters' ports, each with the slot ranges it serves, as a live node sees them.
    pub(crate) fn masters(&self) -> Vec<(u16, Vec<(u16, u16)>)> {
        let port = self.live_ports()[0];
        let slots: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut self.node(port))
            .unwrap();
        let mut masters: Vec<(u16, Vec<(u16, u16)>)> = Vec::new();
        for range in slots {
            let redis::Value::Array(fields) = range else {
                continue;
            };
            let number = |value: &redis::Value| match value {
                redis::Value::Int(n) => u16::try_from(*n).unwrap(),
                other => panic!("not a number: {other:?}"),
            };
            let redis::Value::Array(master) = &fields[2] else {
                panic!("no master in {fields:?}");
            };
            let (start, end, master_port) =
                (number(&fields[0]), number(&fields[1]), number(&master[1]));
            match masters.iter_mut().find(|(port, _)| *port == master_port) {
                Some((_, ranges)) => ranges.push((start, end)),
                None => masters.push((master_port, vec![(start, end)])),
            }
        }
        masters.sort();
        masters
    }

    /// The port of the master serving `key`, by `CLUSTER KEYSLOT`.
    pub(crate) fn master_of(&self, key: &str) -> u16 {
        let port = self.live_ports()[0];
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.node(port))
            .unwrap();
        self.masters()
            .into_iter()
            .find(|(_, ranges)| {
                ranges
                    .iter()
                    .any(|(start, end)| (*start..=*end).contains(&slot))
            })
            .map(|(port, _)| port)
            .unwrap()
    }

    /// `CLUSTER KEYSLOT key`.
    pub(crate) fn slot(&self, key: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.node(self.live_ports()[0]))
            .unwrap()
    }

    /// Every key on the master on `port` that starts with `prefix`.
    pub(crate) fn keys_on(&self, port: u16, prefix: &str) -> Vec<String> {
        use redis::Commands;
        let mut node = self.node(port);
        let keys: Vec<String> = node
            .scan_match::<_, String>(format!("{prefix}*"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        keys
    }

    /// SIGKILL of the node on `port`: no goodbye, as in a crash.
    pub(crate) fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == port)
            .unwrap();
        if let Some(mut child) = node.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Waits (a bounded poll of the nodes' own view) until every live node reports
    /// `cluster_state:ok` with all 16384 slots served, every master has a replica whose link is
    /// up, and three masters serve slots.
    pub(crate) async fn until_healthy(&self) {
        self.until(Duration::from_secs(30), |cluster| cluster.is_healthy(3))
            .await;
    }

    /// Waits until a replica took over the slots of the killed master on `killed`: every live
    /// node reports `cluster_state:ok` with all slots served, and three masters serve them,
    /// none of them `killed`. Returns how long it took.
    pub(crate) async fn until_failed_over(&self, killed: u16) -> Duration {
        let started = Instant::now();
        self.until(Duration::from_secs(30), |cluster| {
            cluster.serves_all_slots() && cluster.masters().iter().all(|(port, _)| *port != killed)
        })
        .await;
        started.elapsed()
    }

    async fn until(&self, bound: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + bound;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "the cluster did not settle in {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn info(&self, port: u16, section: &str) -> String {
        redis::cmd("INFO")
            .arg(section)
            .query(&mut self.node(port))
            .unwrap_or_default()
    }

    fn serves_all_slots(&self) -> bool {
        self.live_ports().into_iter().all(|port| {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut self.node(port))
                .unwrap_or_default();
            info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
        }) && self.masters().len() == 3
    }

    fn is_healthy(&self, masters: usize) -> bool {
        if !self.serves_all_slots() || self.masters().len() != masters {
            return false;
        }
        let replicas_synced = self.live_ports().into_iter().all(|port| {
            let replication = self.info(port, "replication");
            !replication.contains("role:slave") || replication.contains("master_link_status:up")
        });
        let replicas = self
            .live_ports()
            .into_iter()
            .filter(|port| self.info(*port, "replication").contains("role:slave"))
            .count();
        replicas_synced && replicas >= masters
    }

    /// `CLUSTER MYID` of the node on `port`.
    pub(crate) fn node_id(&self, port: u16) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut self.node(port))
            .unwrap()
    }

    /// Moves `slot` from the master on `from` to the master on `to` the way `redis-cli
    /// --cluster reshard` does, calling `between` after each step: marked importing and
    /// migrating (`ASK` redirections for keys that moved), its keys migrated, then given to
    /// `to` on every master (`MOVED` for clients that still send to `from`).
    pub(crate) fn migrate_slot(
        &self,
        slot: u16,
        from: u16,
        to: u16,
        mut between: impl FnMut(&str),
    ) {
        let (from_id, to_id) = (self.node_id(from), self.node_id(to));
        let setslot = |port: u16, args: &[&str]| {
            let _: () = redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(args)
                .query(&mut self.node(port))
                .unwrap();
        };
        setslot(to, &["IMPORTING", &from_id]);
        setslot(from, &["MIGRATING", &to_id]);
        between("migrating");
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(1000)
            .query(&mut self.node(from))
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(to)
                .arg("")
                .arg(0)
                .arg(5_000)
                .arg("KEYS")
                .arg(&keys)
                .query(&mut self.node(from))
                .unwrap();
        }
        between("keys migrated");
        for (port, _) in self.masters() {
            setslot(port, &["NODE", &to_id]);
        }
        between("moved");
    }

    /// The ports of the live replicas.
    pub(crate) fn replicas(&self) -> Vec<u16> {
        self.live_ports()
            .into_iter()
            .filter(|port| self.info(*port, "replication").contains("role:slave"))
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `count` ports that are free, each with port + 10000 free too (the cluster bus). Taken from
/// 20000 to 22767, so that both lie below Linux's ephemeral range (32768 and up), where the
/// outgoing connections of tests running beside this one take their ports.
fn free_port_pairs(count: usize) -> Vec<u16> {
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 2_768;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let start = u16::try_from((seed ^ std::process::id()) % u32::from(SPAN)).unwrap();
    // Ports handed to clusters of this process are never handed out again, even once free for
    // a moment between this choice and their server's start.
    static TAKEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut taken = TAKEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut ports = Vec::new();
    let mut held = Vec::new();
    for offset in 0..SPAN {
        if ports.len() == count {
            break;
        }
        let port = FIRST + (start + offset) % SPAN;
        if taken.contains(&port) {
            continue;
        }
        let (Ok(listener), Ok(bus)) = (
            std::net::TcpListener::bind(("127.0.0.1", port)),
            std::net::TcpListener::bind(("127.0.0.1", port + 10_000)),
        ) else {
            continue;
        };
        ports.push(port);
        // Held until all are chosen: a cluster started beside this one skips them.
        held.push((listener, bus));
    }
    assert_eq!(ports.len(), count, "no {count} free port pairs");
    taken.extend_from_slice(&ports);
    ports
}

/// Waits until the node on `port` answers `PING`: attempts one after the other, at most ten
/// seconds.
async fn until_answers(port: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let _ = stream.write_all(b"PING\r\n").await;
            let mut reply = [0u8; 5];
            if stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG" {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("redis-server on {port} did not come up");
}
