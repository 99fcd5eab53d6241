//! Real server processes for the tests: this test binary started again, running the server's
//! own `run` in the ignored test `processes::server_process`; and a webhook receiver that can
//! be told to fail.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// The arguments of the server in a child process, separated by newlines.
const ARGS_VAR: &str = "MEMORYSYNC_SERVER_PROCESS_ARGS";

/// Not a test: the entry point of the server processes the tests start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the server in a process started by the two-process tests"]
async fn server_process() {
    let words = std::env::var(ARGS_VAR).expect("started by ServerProcess::start");
    // Its log goes to the test's output, for when a two-process test fails.
    tracing_subscriber::fmt()
        .with_env_filter("warn,memorysync_pipeline=info")
        .with_writer(std::io::stderr)
        .init();
    let args = crate::args::Args::parse(words.lines().map(str::to_owned)).unwrap();
    crate::run(args).await.unwrap();
}

/// A server process on an ephemeral loopback port; killed (SIGKILL) when dropped.
pub(crate) struct ServerProcess {
    pub(crate) addr: SocketAddr,
    child: Child,
}

impl ServerProcess {
    /// Starts the server with `config` as instance `instance`, with `env` set, and waits for
    /// the line that says where it listens.
    pub(crate) async fn start(config: &Path, instance: &str, env: &[(&str, &str)]) -> Self {
        let args = format!(
            "--config\n{}\n--listen\n127.0.0.1:0\n--instance\n{instance}",
            config.display()
        );
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "processes::server_process",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(ARGS_VAR, args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("memorysync server on http://") {
                    return rest.split_whitespace().next().unwrap().parse().unwrap();
                }
            }
            panic!("the server process ended before listening");
        })
        .await
        .expect("the server process listens within a minute");
        // Keep reading so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess { addr, child }
    }

    /// SIGKILL: the process gets no chance to hand anything over.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// What a webhook receiver was sent: the message id, the event, and whether it answered 200.
#[derive(Clone, Debug)]
pub(crate) struct Arrival {
    pub(crate) id: String,
    pub(crate) event: Value,
    pub(crate) accepted: bool,
}

/// A webhook receiver on loopback that answers 503 while `failing`.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) failing: Arc<AtomicBool>,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    /// Serves the receiver; returns its URL.
    pub(crate) async fn serve(&self) -> String {
        let receiver = self.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let receiver = receiver.clone();
                async move { receiver.take(&headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn take(&self, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        let accepted = !self.failing.load(Ordering::SeqCst);
        // A delivery without an id or with a body that is not JSON is recorded as such, for
        // the test's assertion to show, rather than panicking inside the receiver.
        let id = headers
            .get("webhook-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let event = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.arrivals.lock().unwrap().push(Arrival {
            id,
            event,
            accepted,
        });
        self.arrived.notify_waiters();
        if accepted {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }

    /// Every arrival so far.
    pub(crate) fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Waits (at most `within`) until `done` holds for the arrivals.
    pub(crate) async fn until(&self, within: Duration, done: impl Fn(&[Arrival]) -> bool) {
        tokio::time::timeout(within, async {
            loop {
                let arrived = self.arrived.notified();
                if done(&self.arrivals()) {
                    return;
                }
                arrived.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("not received in {within:?}: {:?}", self.arrivals()));
    }
}
