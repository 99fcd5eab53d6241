//! A `redis-server` of the test's own on a free port, writing an append-only file on every
//! write, so that a kill and a restart keep what it held.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub(crate) struct RedisProcess {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisProcess {
    /// A server on a free port, or `None` (with a printed line) where `redis-server` is not
    /// installed and CI did not ask for Redis.
    pub(crate) fn start() -> Option<RedisProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("memorysync-outage-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut process = RedisProcess {
            port,
            dir,
            child: None,
        };
        match process.spawn() {
            Ok(child) => {
                process.child = Some(child);
                Some(process)
            }
            Err(error) => {
                assert!(
                    std::env::var("MEMORYSYNC_TEST_REDIS_URL").is_err(),
                    "redis-server must be on PATH where MEMORYSYNC_TEST_REDIS_URL is set: {error}"
                );
                println!("skipped: redis-server is not available ({error})");
                None
            }
        }
    }

    fn spawn(&self) -> std::io::Result<Child> {
        Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
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

    /// Waits until the server answers PING (it needs a moment to load its file): attempts
    /// one after the other, for at most ten seconds; no fixed sleep.
    pub(crate) async fn until_answers(&self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
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

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
