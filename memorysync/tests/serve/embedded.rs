//! `memorysync serve` on `store.backend = "embedded"`, killed (SIGKILL) and stopped (SIGTERM)
//! under concurrent adds, then started again on the same `store.path`: acknowledged adds never
//! exceed the plan, each crash forfeits at most one block, a clean stop none; revocations,
//! tombstones and dead letters survive; usage is on disk within its window; a second server on
//! the same path is refused; `store backup` copies a running store and `store restore` keeps a
//! key revoked after the backup refused.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
use memorysync_pipeline::key::{ApiKey, KeyStore};
use memorysync_pipeline::webhook::WebhookSecret;
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

use crate::client::Running;
use crate::process::{BIN, ServerProcess, run_to_exit};

/// Adds per month: blocks of B = 3.
const PLAN: u64 = 300;
const BLOCK: u64 = 3;

const QUOTA: TableDefinition<(&str, &str, &str), u64> = TableDefinition::new("quota_ceilings");
const TOMBSTONES: TableDefinition<(&str, &str), i64> = TableDefinition::new("tombstones");
const DEAD_LETTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("webhook_dead_letters");
const USAGE: TableDefinition<&str, (u64, i64)> = TableDefinition::new("key_usage");

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    store: PathBuf,
    adds: ApiKey,
    revoked: ApiKey,
    secret: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state");
    let adds = ApiKey::generate(Environment::Development).unwrap();
    let revoked = ApiKey::generate(Environment::Development).unwrap();
    // Nothing listens on port 9 of loopback: every delivery fails at once, and with one
    // attempt in the schedule it is a dead letter.
    let config = format!(
        r#"environment = "development"
[store]
backend = "embedded"
path = "{store}"

[[projects]]
id = "proj_a"
adds_per_month = {PLAN}
queries_per_month = 1000

[[keys]]
id = "key_adds"
sha256 = "{adds}"
project = "proj_a"
environment = "development"

[[keys]]
id = "key_revoked"
sha256 = "{revoked}"
project = "proj_a"
environment = "development"

[[webhooks]]
url = "http://127.0.0.1:9/hook"
secret_env = "HOOK_SECRET"
events = ["quota.threshold", "quota.exhausted"]

[webhooks_retry]
schedule = ["0s"]

[server]
shutdown_grace_ms = 5000
"#,
        store = store.display(),
        adds = adds.hash().to_hex(),
        revoked = revoked.hash().to_hex(),
    );
    let path = dir.path().join("memorysync.toml");
    std::fs::write(&path, config).unwrap();
    Setup {
        _dir: dir,
        config: path,
        store,
        adds,
        revoked,
        secret: WebhookSecret::generate().unwrap().expose(),
    }
}

impl Setup {
    async fn start(&self) -> ServerProcess {
        let env = [("HOOK_SECRET", self.secret.as_str())];
        ServerProcess::start(&self.config, "embedded-a", &env).await
    }

    /// The database, read while no server holds it.
    fn read<T>(&self, read: impl FnOnce(&redb::ReadTransaction) -> T) -> T {
        read_database(&self.store.join("state.redb"), read)
    }

    fn ceiling(&self) -> u64 {
        self.read(|tx| {
            let table = tx.open_table(QUOTA).unwrap();
            let month = memorysync_pipeline::quota::Month::of(SystemClock.now()).to_string();
            table
                .get(("proj_a", "add", month.as_str()))
                .unwrap()
                .map_or(0, |v| v.value())
        })
    }
}

fn read_database<T>(file: &Path, read: impl FnOnce(&redb::ReadTransaction) -> T) -> T {
    let db = redb::Database::create(file).unwrap();
    let tx = db.begin_read().unwrap();
    read(&tx)
}

/// What the adds of one round got: served (acknowledged), or no answer (the process died).
#[derive(Default)]
struct Tally {
    acknowledged: AtomicU64,
    unanswered: AtomicU64,
}

/// Four clients adding until told to stop; an add is acknowledged when a 200 carries its
/// `ADD` event (a degraded add is a 200 with no results).
fn load(
    addr: std::net::SocketAddr,
    key: &ApiKey,
    tally: &Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|_| {
            let (tally, bearer) = (Arc::clone(tally), format!("Bearer {}", key.expose_secret()));
            tokio::spawn(async move {
                let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
                for _ in 0..400 {
                    let request = http::Request::post(format!("http://{addr}/v1/memories"))
                        .header("authorization", &bearer)
                        .header("x-project-id", "proj_a")
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(br#"{"text":"a memory"}"#)))
                        .unwrap();
                    let Ok(response) = client.request(request).await else {
                        tally.unanswered.fetch_add(1, Ordering::Relaxed);
                        return;
                    };
                    let status = response.status();
                    let Ok(body) = response.into_body().collect().await else {
                        tally.unanswered.fetch_add(1, Ordering::Relaxed);
                        return;
                    };
                    let body = body.to_bytes();
                    if status == 200 && body.windows(5).any(|w| w == b"\"ADD\"") {
                        tally.acknowledged.fetch_add(1, Ordering::Relaxed);
                    } else if status != 200 {
                        panic!("an add answered {status}");
                    }
                }
            })
        })
        .collect()
}

/// Waits until `acknowledged` reaches `at_least`, bounded.
async fn until_acknowledged(tally: &Tally, at_least: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tally.acknowledged.load(Ordering::Relaxed) < at_least {
        assert!(tokio::time::Instant::now() < deadline, "adds stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `memorysync store ARGS...` as a process; its stdout, or a panic with its stderr.
async fn store_command(args: &[&str]) -> String {
    let output = tokio::process::Command::new(BIN)
        .arg("store")
        .args(args)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "memorysync store {args:?}: {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An online backup of the running store, read.
async fn backed_up<T>(setup: &Setup, read: impl FnOnce(&redb::ReadTransaction) -> T) -> T {
    let copy = setup.store.with_file_name("polled.backup");
    let config = setup.config.to_str().unwrap();
    store_command(&["backup", "--config", config, "--to", copy.to_str().unwrap()]).await;
    read_database(&copy, read)
}

fn usage_of(tx: &redb::ReadTransaction, id: &str) -> u64 {
    let table = tx.open_table(USAGE).unwrap();
    table.get(id).unwrap().map_or(0, |v| v.value().0)
}

fn dead_letters(tx: &redb::ReadTransaction) -> u64 {
    tx.open_table(DEAD_LETTERS).unwrap().len().unwrap()
}

/// The code of a problem+json answer.
async fn code(client: &Running, key: &ApiKey) -> (u16, String) {
    let bearer = format!("Bearer {}", key.expose_secret());
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-project-id", "proj_a"),
    ];
    let (status, body) = client.send("GET", "/v1/memories", &headers, "").await;
    (status, body["code"].as_str().unwrap_or("").to_owned())
}

#[cfg(feature = "webhook-client")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_and_restart_under_load_keeps_the_plan_revocations_tombstones_and_dead_letters() {
    let setup = setup();
    let config = setup.config.to_str().unwrap().to_owned();
    let backup = setup.store.with_file_name("before-revocation.backup");

    // A memory deleted: its tombstone. An online backup, while the key is still live.
    let mut server = setup.start().await;
    let client = Running::at(server.addr);
    let bearer = format!("Bearer {}", setup.adds.expose_secret());
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-project-id", "proj_a"),
    ];
    let (status, body) = client
        .send("POST", "/v1/memories", &headers, r#"{"text":"gone"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let memory = body["results"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = client
        .send("DELETE", &format!("/v1/memories/{memory}"), &headers, "")
        .await;
    assert_eq!(status, 200);
    store_command(&[
        "backup",
        "--config",
        &config,
        "--to",
        backup.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code(&client, &setup.revoked).await.0, 200);

    // A second server on the same store.path is refused.
    let (status, error) = run_to_exit(&setup.config, &["--instance", "embedded-b"]).await;
    assert!(!status.success());
    assert!(error.contains("in use by another process"), "{error}");

    // SIGKILL, SIGKILL, SIGTERM, each with four clients adding.
    let mut acknowledged = 1;
    // Units counted so far: the one acknowledged add.
    let mut counted = 1;
    for (round, kill) in [true, true, false].into_iter().enumerate() {
        let tally = Arc::new(Tally::default());
        let clients = load(server.addr, &setup.adds, &tally);
        until_acknowledged(&tally, 40).await;
        if kill {
            server.kill().await;
        } else {
            let (status, printed) = server.terminate().await;
            assert!(status.success(), "{printed:?}");
        }
        for client in clients {
            client.await.unwrap();
        }
        let (acked, unanswered) = (
            tally.acknowledged.load(Ordering::Relaxed),
            tally.unanswered.load(Ordering::Relaxed),
        );
        acknowledged += acked;
        let ceiling = setup.ceiling();
        // Counted on disk and never acknowledged: the forfeit, plus the adds whose answer the
        // kill cut (served or not, nobody knows).
        let forfeit = ceiling.saturating_sub(counted + acked);
        eprintln!(
            "round {round}: ceiling {ceiling}, forfeit {forfeit}, {acked} acknowledged, {unanswered} unanswered"
        );
        let allowed = if kill { BLOCK } else { 0 } + unanswered;
        assert!(
            ceiling >= counted + acked && forfeit <= allowed,
            "round {round}: ceiling {ceiling}, {counted} counted before, {acked} acknowledged, {unanswered} unanswered"
        );
        assert!(acknowledged <= PLAN);
        counted = ceiling;
        let tombstone = setup.read(|tx| {
            let table = tx.open_table(TOMBSTONES).unwrap();
            table.get(("memory", memory.as_str())).unwrap().is_some()
        });
        assert!(tombstone, "round {round}: the memory's tombstone is gone");
        if round == 0 {
            // Revoked while no server runs, through the store itself.
            let store = EmbeddedStore::open(&setup.store, EmbeddedOptions::new()).unwrap();
            store
                .keys()
                .revoke("key_revoked", SystemClock.now())
                .await
                .unwrap();
            store.close().await;
        }
        server = setup.start().await;
        let (status, code) = code(&Running::at(server.addr), &setup.revoked).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "revoked_api_key"),
            "round {round}"
        );
    }

    // The plan used up: alerts at 75, 90 and 100 % fail to reach the endpoint and are dead
    // letters, seen in an online backup; a SIGKILL keeps them.
    let tally = Arc::new(Tally::default());
    for client in load(server.addr, &setup.adds, &tally) {
        client.await.unwrap();
    }
    acknowledged += tally.acknowledged.load(Ordering::Relaxed);
    assert!(
        acknowledged <= PLAN,
        "{acknowledged} adds acknowledged on a plan of {PLAN}"
    );
    assert!(
        acknowledged + 2 * BLOCK >= PLAN,
        "more forfeited than two blocks: {acknowledged}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while backed_up(&setup, dead_letters).await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letter within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Usage: five requests are on disk within the tick.
    let before = backed_up(&setup, |tx| usage_of(tx, "key_adds")).await;
    let client = Running::at(server.addr);
    for _ in 0..5 {
        assert_eq!(code(&client, &setup.adds).await.0, 200);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while backed_up(&setup, |tx| usage_of(tx, "key_adds")).await < before + 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "usage not written within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().await;
    assert!(setup.read(dead_letters) >= 1);
    assert!(setup.read(|tx| usage_of(tx, "key_adds")) >= before + 5);

    // Restored from the backup taken before the revocation: the key stays refused, the memory's
    // tombstone stays, the spent adds stay spent.
    let printed = store_command(&[
        "restore",
        "--config",
        &config,
        "--from",
        backup.to_str().unwrap(),
    ])
    .await;
    assert!(
        printed.contains("revoked by the current store"),
        "{printed}"
    );
    let server = setup.start().await;
    let client = Running::at(server.addr);
    assert_eq!(
        code(&client, &setup.revoked).await,
        (401, "revoked_api_key".to_owned())
    );
    let (status, body) = client
        .send("POST", "/v1/memories", &headers, r#"{"text":"more"}"#)
        .await;
    assert_eq!(
        (status, body["results"].as_array().map(Vec::len)),
        (200, Some(0)),
        "degraded: {body}"
    );
    let (status, _) = server.terminate().await;
    assert!(status.success());
    assert!(setup.read(|tx| {
        tx.open_table(TOMBSTONES)
            .unwrap()
            .get(("memory", memory.as_str()))
            .unwrap()
            .is_some()
    }));
    assert!(
        setup.read(dead_letters) >= 1,
        "the restore keeps the current dead letters"
    );
}

/// Production on the memory backend is refused, saying why and what to use, unless the
/// operator accepts the loss with `--allow-volatile-state`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_on_the_memory_backend_needs_allow_volatile_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("memorysync.toml");
    std::fs::write(&config, "environment = \"production\"\n").unwrap();
    let (status, error) = run_to_exit(&config, &["--instance", "volatile"]).await;
    assert!(!status.success());
    assert!(
        error.contains("a restart would undo")
            && error.contains("store.backend = \"embedded\"")
            && error.contains("--allow-volatile-state"),
        "{error}"
    );
    let server = ServerProcess::start_with(
        &config,
        &["--instance", "volatile", "--allow-volatile-state"],
        &[],
    )
    .await;
    // Serving (its signal handler in place) once it answers.
    let (status, _) = Running::at(server.addr)
        .send("GET", "/health", &[], "")
        .await;
    assert_eq!(status, 200);
    let (status, printed) = server.terminate().await;
    assert!(status.success(), "{printed:?}");
}
