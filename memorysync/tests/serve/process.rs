//! Real server processes for the tests: the `memorysync` binary, `serve` on ephemeral loopback
//! ports, stopped by SIGTERM or SIGKILL.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The binary under test, built by cargo for this test target.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_memorysync");

/// How long a server process may take to start listening or to stop.
const PATIENCE: Duration = Duration::from_secs(60);

/// A server process; killed (SIGKILL) when dropped.
pub(crate) struct ServerProcess {
    /// The public listener.
    pub(crate) addr: SocketAddr,
    /// The admin listener, when started with `--admin-listen`.
    pub(crate) admin: Option<SocketAddr>,
    /// Whether the startup line said `https://`.
    pub(crate) https: bool,
    child: Child,
    /// Standard output after the startup lines, read to the end.
    rest: JoinHandle<Vec<String>>,
    /// The same lines as they come, for [`ServerProcess::next_line_with`].
    live: mpsc::UnboundedReceiver<String>,
}

/// The scheme and address of a startup line `<prefix>http(s)://ADDR ...`.
fn address(line: &str, prefix: &str) -> Option<(bool, SocketAddr)> {
    let rest = line.strip_prefix(prefix)?;
    let (https, rest) = match rest.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, rest.strip_prefix("http://")?),
    };
    Some((https, rest.split_whitespace().next()?.parse().ok()?))
}

impl ServerProcess {
    /// `serve` with `config` as instance `instance`, with `env` set.
    pub(crate) async fn start(config: &Path, instance: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with(config, &["--instance", instance], env).await
    }

    /// `memorysync serve --config CONFIG --listen 127.0.0.1:0` and `args`, with `env` set;
    /// waits for the lines that say where it listens.
    pub(crate) async fn start_with(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            // Its warnings go to the test's output, for when a process test fails.
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let wants_admin = args.contains(&"--admin-listen");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (https, addr, admin) = tokio::time::timeout(PATIENCE, async {
            let mut public = None;
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(found) = address(&line, "memorysync on ") {
                    public = Some(found);
                    if !wants_admin {
                        break;
                    }
                } else if let Some((_, admin)) = address(&line, "memorysync admin on ") {
                    let (https, addr) = public.expect("the public line comes first");
                    return (https, addr, Some(admin));
                }
            }
            let (https, addr) = public.expect("the server process ended before listening");
            (https, addr, None)
        })
        .await
        .expect("the server process listens within a minute");
        // Keep reading so the child never blocks on a full pipe.
        let (forward, live) = mpsc::unbounded_channel();
        let rest = tokio::spawn(async move {
            let mut rest = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = forward.send(line.clone());
                rest.push(line);
            }
            rest
        });
        ServerProcess {
            addr,
            admin,
            https,
            child,
            rest,
            live,
        }
    }

    /// SIGHUP: the server reads its config file again.
    pub(crate) async fn hangup(&self) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success(), "kill -HUP {pid}");
    }

    /// The next line printed from now on that contains `needle`, waited for at most a minute.
    pub(crate) async fn next_line_with(&mut self, needle: &str) -> String {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let line = self.live.recv().await.expect("the server process ended");
                if line.contains(needle) {
                    return line;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no line with `{needle}` within a minute"))
    }

    /// SIGKILL: the process gets no chance to hand anything over.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, then waits for the exit: its status and what it printed after starting.
    pub(crate) async fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server stops within a minute of SIGTERM")
            .unwrap();
        (status, (&mut self.rest).await.unwrap())
    }
}

/// Runs `memorysync serve --config CONFIG --listen 127.0.0.1:0` and `args`, expecting it to
/// stop by itself: its exit status and standard error.
pub(crate) async fn run_to_exit(config: &Path, args: &[&str]) -> (ExitStatus, String) {
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the server process ends within a minute")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status, stderr)
}
