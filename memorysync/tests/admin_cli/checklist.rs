//! The production checklist's operator tasks through the CLI, against real server processes:
//! on the embedded store (one instance), and on Redis with two instances (every command sent
//! to A's admin listener, every request to B's public one).
//!
//! First five minutes: a production key made and the development key revoked; the key's usage
//! after the first production request; the quota tile with its 75/90/100% alerts delivered; a
//! webhook endpoint registered and the dead-letter count watched. API key rotation: a new key,
//! both working through the grace, the old one refused after it and revoked.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use memorysync_pipeline::webhook::endpoints::SecretKey;
use serde_json::Value;

use crate::cli::{FILE_KEY, PROJECT, Secrets, cli};
use crate::client::Running;
use crate::process::ServerProcess;
use crate::status_receiver::Receiver;

/// The config of both instances: `store`, a plan of three adds, the sealing key's file.
fn config(secrets: &Secrets, store: &str, key_file: &Path) -> String {
    secrets
        .config(&format!(
            "{store}[admin]\nsecret_key_file = \"{}\"\n",
            key_file.display()
        ))
        .replace("adds_per_month = 100", "adds_per_month = 3")
}

async fn start(config_path: &Path, instance: &str) -> ServerProcess {
    ServerProcess::start_with(
        config_path,
        &["--instance", instance, "--admin-listen", "127.0.0.1:0"],
        &[],
    )
    .await
}

/// Runs `args` (with `--json`) until it succeeds and `done` holds of the answer, for at most
/// ten seconds.
fn until(args: &[&str], env: &[(&str, &str)], done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = cli(args, env);
        let answer: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        if run.code == Some(0) && done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} never gave what was waited for: {run:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An add with `key` to `project` on `public`: status, problem code, whether it was served.
async fn add(public: &Running, key: &str, project: &str) -> (u16, Option<String>, bool) {
    let auth = format!("Bearer {key}");
    let headers = [("authorization", auth.as_str()), ("x-project-id", project)];
    let (status, body) = public
        .send("POST", "/v1/memories", &headers, r#"{"text":"a"}"#)
        .await;
    let served = body["results"].as_array().is_some_and(|r| !r.is_empty());
    (status, body["code"].as_str().map(str::to_owned), served)
}

/// Waits until `public` refuses `key` with `code`: an instance serves key records from its
/// cache, and a change made on another is in force there within a second (allowed three here:
/// two server processes and the CLI share a loaded test machine).
async fn refused_within_a_second(public: &Running, key: &str, code: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while add(public, key, PROJECT).await.1.as_deref() != Some(code) {
        assert!(Instant::now() < deadline, "{code}: not within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn checklist(
    secrets: &Secrets,
    a: &ServerProcess,
    b: &ServerProcess,
    receiver: &Receiver,
    hook: &str,
) {
    let url = format!("http://{}", a.admin.unwrap());
    let env = [
        ("MEMORYSYNC_ADMIN_URL", url.as_str()),
        ("MEMORYSYNC_ADMIN_TOKEN", secrets.admin.expose_secret()),
    ];
    let b_url = format!("http://{}", b.admin.unwrap());
    let on_b = [
        ("MEMORYSYNC_ADMIN_URL", b_url.as_str()),
        ("MEMORYSYNC_ADMIN_TOKEN", secrets.admin.expose_secret()),
    ];
    let public = Running::at(b.addr);

    // A receiver for the quota alerts; in force on B within a second, as the contract says.
    let created = cli(
        &[
            "webhooks",
            "endpoints",
            "create",
            "--url",
            hook,
            "--event",
            "quota.threshold,quota.exhausted",
            "--json",
        ],
        &env,
    )
    .json();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A production key; the development key revoked.
    let made = cli(
        &[
            "keys",
            "create",
            "--project",
            PROJECT,
            "--environment",
            "production",
            "--id",
            "key_prod",
            "--rps",
            "50",
            "--rpm",
            "1000",
            "--json",
        ],
        &env,
    )
    .json();
    let prod = made["key"].as_str().unwrap().to_owned();
    cli(&["keys", "revoke", FILE_KEY], &env).ok();
    let dev = secrets.file_key.expose_secret();
    refused_within_a_second(&public, dev, "revoked_api_key").await;

    // The first production request, and its usage read on A.
    assert!(add(&public, &prod, PROJECT).await.2);
    until(&["keys", "show", "key_prod", "--json"], &env, |k| {
        k["usage"]["requests"] == 1
    });

    // The quota tile and the alerts at 75, 90 and 100%.
    assert!(add(&public, &prod, PROJECT).await.2);
    assert!(add(&public, &prod, PROJECT).await.2);
    assert!(
        !add(&public, &prod, PROJECT).await.2,
        "degraded past the plan"
    );
    let tile = cli(&["projects", "show", PROJECT, "--json"], &env).json();
    assert_eq!(
        tile["tile"]["adds"],
        serde_json::json!({"used": 3, "limit": 3, "alerts_fired": [75, 90, 100]})
    );
    until(
        &["webhooks", "attempts", "--status", "delivered", "--json"],
        &env,
        |a| {
            a.as_array()
                .or_else(|| a["items"].as_array())
                .is_some_and(|items| items.len() >= 3)
        },
    );
    assert!(receiver.received.load(Ordering::SeqCst) >= 3);

    // The dead-letter count: the receiver is gone, the next alert is a dead letter.
    receiver.status.store(410, Ordering::SeqCst);
    cli(
        &[
            "projects",
            "create",
            "proj_next",
            "--adds-per-month",
            "1",
            "--queries-per-month",
            "1",
        ],
        &env,
    )
    .ok();
    let next = cli(
        &[
            "keys",
            "create",
            "--project",
            "proj_next",
            "--environment",
            "production",
            "--json",
        ],
        &env,
    )
    .json();
    until(&["projects", "show", "proj_next", "--json"], &on_b, |p| {
        p["id"] == "proj_next"
    });
    assert!(
        add(&public, next["key"].as_str().unwrap(), "proj_next")
            .await
            .2
    );
    until(&["webhooks", "dead-letters", "--json"], &env, |l| {
        l["count"].as_u64() >= Some(1)
    });
    assert!(
        cli(&["webhooks", "dead-letters"], &env)
            .ok()
            .starts_with("dead letters: ")
    );

    // Rotation with a one-second grace.
    let rotated = cli(
        &[
            "keys",
            "rotate",
            "key_prod",
            "--grace",
            "1s",
            "--new-id",
            "key_prod2",
            "--json",
        ],
        &env,
    )
    .json();
    let new = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(add(&public, &new, PROJECT).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while add(&public, &prod, PROJECT).await.1.as_deref() != Some("expired_api_key") {
        assert!(
            Instant::now() < deadline,
            "the old key still works after its grace"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cli(&["keys", "revoke", "key_prod"], &env).ok();
    refused_within_a_second(&public, &prod, "revoked_api_key").await;
    assert_eq!(add(&public, &new, PROJECT).await.0, 200);

    let events = cli(&["audit", "query", "--key-id", "key_prod", "--json"], &env).json();
    let events = events
        .as_array()
        .or_else(|| events["items"].as_array())
        .unwrap()
        .clone();
    assert!(
        events
            .iter()
            .any(|e| e["path"] == "/admin/v1/keys/key_prod/rotate"),
        "{events:#?}"
    );
    assert_eq!(
        cli(&["audit", "verify-remote", "--json"], &env).json()["ok"],
        true
    );
}

fn sealing_key(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sealing.key");
    std::fs::write(&path, SecretKey::generate().unwrap().to_base64()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checklist_through_the_cli_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::new();
    let store = format!(
        "[store]\nbackend = \"embedded\"\npath = \"{}\"\n[audit]\ndir = \"{}\"\n",
        dir.path().join("state").display(),
        dir.path().join("audit").display()
    );
    let path = dir.path().join("memorysync.toml");
    std::fs::write(&path, config(&secrets, &store, &sealing_key(dir.path()))).unwrap();
    let server = start(&path, "cli-checklist").await;
    let receiver = Receiver::default();
    let hook = receiver.serve().await;
    checklist(&secrets, &server, &server, &receiver, &hook).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checklist_through_the_cli_on_redis_with_two_instances() {
    let Some(redis) = crate::test_redis::RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::new();
    let store = format!(
        "[store]\nbackend = \"redis\"\nredis_url = \"{}\"\non_store_error = \"deny\"\n",
        redis.url()
    );
    let path = dir.path().join("memorysync.toml");
    std::fs::write(&path, config(&secrets, &store, &sealing_key(dir.path()))).unwrap();
    let a = start(&path, "cli-a").await;
    let b = start(&path, "cli-b").await;
    let receiver = Receiver::default();
    let hook = receiver.serve().await;
    checklist(&secrets, &a, &b, &receiver, &hook).await;
}
