//! The one Redis harness of the tests and the examples' tests: the shared Redis named by
//! `MEMORYSYNC_TEST_REDIS_URL` (or a line saying the test skipped), a key prefix per test whose
//! keys are deleted at the end, and a `redis-server` of a test's own on a free port for tests
//! that kill Redis or that cannot put their keys under a prefix.
//!
//! Nothing here flushes a database: the shared Redis may hold other runs' keys.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The variable naming the shared test Redis; CI sets `redis://127.0.0.1:6379`.
pub(crate) const REDIS_URL_VAR: &str = "MEMORYSYNC_TEST_REDIS_URL";

/// How long a harness connection waits for Redis.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The URL of the shared test Redis, or `None` after printing that the test skipped.
pub(crate) fn test_url() -> Option<String> {
    match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: {REDIS_URL_VAR} is not set");
            None
        }
    }
}

/// A key prefix no other test uses, in this process or a concurrent one.
pub(crate) fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("memorysync-test:{test}:{}-{nanos}-{n}:", std::process::id())
}

/// One test's prefix on the shared Redis. Its keys are deleted when it is dropped, even by a
/// panic.
#[derive(Debug)]
pub(crate) struct TestPrefix {
    pub(crate) url: String,
    pub(crate) prefix: String,
}

impl TestPrefix {
    /// A prefix for `test`, or `None` (after saying so) without a test Redis.
    pub(crate) fn new(test: &str) -> Option<Self> {
        Some(TestPrefix {
            url: test_url()?,
            prefix: unique_prefix(test),
        })
    }

    /// Every key under the prefix.
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut connection = redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection_with_timeout(TIMEOUT)
            .unwrap();
        scan(&mut connection, &self.prefix).unwrap()
    }

    /// A connection of the crate's under the prefix.
    #[cfg(feature = "redis")]
    pub(crate) async fn connect(&self) -> memorysync_pipeline::redis_store::RedisConnection {
        let options = memorysync_pipeline::redis_store::RedisOptions {
            prefix: self.prefix.clone(),
            timeout: TIMEOUT,
        };
        memorysync_pipeline::redis_store::RedisConnection::connect(&self.url, options)
            .await
            .unwrap()
    }
}

impl Drop for TestPrefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_connection_with_timeout(TIMEOUT) else {
            return;
        };
        let keys = scan(&mut connection, &self.prefix).unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<usize> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

/// A connection under a prefix of its own for `test`, or `None` (after saying so) without a test
/// Redis; [`clean_up`] deletes its keys.
#[cfg(feature = "redis")]
pub(crate) async fn connect(
    test: &str,
) -> Option<memorysync_pipeline::redis_store::RedisConnection> {
    let url = test_url()?;
    let options = memorysync_pipeline::redis_store::RedisOptions {
        prefix: unique_prefix(test),
        ..Default::default()
    };
    Some(
        memorysync_pipeline::redis_store::RedisConnection::connect(&url, options)
            .await
            .unwrap(),
    )
}

/// Deletes every key under the connection's prefix, and checks that none is left.
#[cfg(feature = "redis")]
pub(crate) async fn clean_up(connection: &memorysync_pipeline::redis_store::RedisConnection) {
    let prefix = &connection.options().prefix;
    let mut manager = connection.manager();
    let keys = scan_async(&mut manager, prefix).await;
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut manager)
            .await
            .unwrap();
    }
    assert!(scan_async(&mut manager, prefix).await.is_empty());
}

/// `command key` on a key under the connection's prefix, e.g. `TTL`.
#[cfg(feature = "redis")]
pub(crate) async fn ask(
    connection: &memorysync_pipeline::redis_store::RedisConnection,
    command: &str,
    parts: &[&str],
) -> i64 {
    let mut manager = connection.manager();
    redis::cmd(command)
        .arg(connection.key(parts))
        .query_async(&mut manager)
        .await
        .unwrap()
}

fn scan(connection: &mut redis::Connection, prefix: &str) -> redis::RedisResult<Vec<String>> {
    use redis::Commands;
    let keys = connection.scan_match::<_, String>(format!("{prefix}*"))?;
    keys.collect()
}

async fn scan_async(connection: &mut impl redis::aio::ConnectionLike, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(500)
            .query_async(connection)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// A `redis-server` of the test's own on a free port, stopped and its files deleted on drop.
#[derive(Debug)]
pub(crate) struct RedisServer {
    port: u16,
    dir: PathBuf,
    durable: bool,
    /// Whether `DEBUG` (e.g. `DEBUG SLEEP`, to make it hang) is allowed from this host.
    debug: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// A server holding everything in memory, or `None` (with a printed line) where
    /// `redis-server` is not installed and CI did not ask for Redis.
    pub(crate) fn start() -> Option<RedisServer> {
        Self::start_with(false)
    }

    /// A server writing an append-only file on every write, so that a kill and a restart keep
    /// what it held, as in production.
    pub(crate) fn start_durable() -> Option<RedisServer> {
        Self::start_with(true)
    }

    /// A server in memory that takes `DEBUG SLEEP` from this host, to hang on demand.
    pub(crate) fn start_debuggable() -> Option<RedisServer> {
        Self::start_with_options(false, true)
    }

    fn start_with(durable: bool) -> Option<RedisServer> {
        Self::start_with_options(durable, false)
    }

    fn start_with_options(durable: bool, debug: bool) -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("memorysync-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer {
            port,
            dir,
            durable,
            debug,
            child: None,
        };
        match server.spawn() {
            Ok(child) => {
                server.child = Some(child);
                Some(server)
            }
            Err(error) => {
                // CI names a Redis, and installs `redis-server` with it: there it must be found.
                assert!(
                    std::env::var(REDIS_URL_VAR).is_err(),
                    "redis-server must be on PATH where {REDIS_URL_VAR} is set: {error}"
                );
                println!("skipped: redis-server is not available ({error})");
                None
            }
        }
    }

    fn spawn(&self) -> std::io::Result<Child> {
        let persistence: &[&str] = if self.durable {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        let debug: &[&str] = if self.debug {
            &["--enable-debug-command", "local"]
        } else {
            &[]
        };
        Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(persistence)
            .args(debug)
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no goodbye to the clients, as in a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// A new server on the same port and directory, reading back the append-only file.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.child = Some(self.spawn().unwrap());
    }

    /// Waits until the server answers PING (it needs a moment to start or to load its file):
    /// attempts one after the other, for at most ten seconds; no fixed sleep.
    pub(crate) async fn until_answers(&self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                let _ = stream.write_all(b"PING\r\n").await;
                let mut reply = [0u8; 5];
                if stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG" {
                    return;
                }
            }
            tokio::task::yield_now().await;
        }
        panic!("redis-server on {} did not come up", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
