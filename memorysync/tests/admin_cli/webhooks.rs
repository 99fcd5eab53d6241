//! The `webhooks` commands end to end: an endpoint registered by the CLI (its secret printed
//! once) gets the quota alerts of the public listener; the receiver's 410 disables it and
//! dead-letters the delivery; the attempt log, the dead letters, enable, replay, a rotated
//! secret, disable and delete, each through the CLI.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use memorysync_pipeline::webhook::WebhookSecret;
use memorysync_pipeline::webhook::endpoints::SecretKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{Secrets, cli, serve};
use crate::client::Running;

/// A receiver that answers every request `410 Gone`: the receiver is gone for good.
async fn gone_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 16 * 1024];
                let _ = stream.read(&mut buffer).await;
                let answer = "HTTP/1.1 410 Gone\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/hook")
}

/// Runs `args` with `--json` until `done` holds of the answer, for at most ten seconds.
fn until(args: &[&str], env: &[(&str, &str)], done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = cli(args, env).json();
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} never gave what was waited for: {answer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_webhooks_command_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("sealing.key");
    std::fs::write(&key_file, SecretKey::generate().unwrap().to_base64()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let secrets = Secrets::new();
    let extra = format!("[admin]\nsecret_key_file = \"{}\"\n", key_file.display());
    let server = serve(dir.path(), &secrets.config(&extra), "cli-webhooks").await;
    let public = Running::at(server.addr);
    let url = format!("http://{}", server.admin.unwrap());
    let env = [
        ("MEMORYSYNC_ADMIN_URL", url.as_str()),
        ("MEMORYSYNC_ADMIN_TOKEN", secrets.admin.expose_secret()),
    ];
    let receiver = gone_receiver().await;

    let created = cli(
        &[
            "webhooks",
            "endpoints",
            "create",
            "--url",
            &receiver,
            "--event",
            "quota.threshold,quota.exhausted",
        ],
        &env,
    )
    .ok();
    let (first, rest) = created.split_once("\n\n").unwrap();
    WebhookSecret::parse(first).expect("the secret alone on the first line");
    assert!(!rest.contains(first), "the secret is printed once");
    let listed = cli(&["webhooks", "endpoints", "list", "--json"], &env).json();
    let endpoint = listed
        .as_array()
        .or_else(|| listed["items"].as_array())
        .unwrap()[0]
        .clone();
    let id = endpoint["id"].as_str().unwrap().to_owned();
    assert!(
        cli(&["webhooks", "endpoints", "list"], &env)
            .ok()
            .contains(&id)
    );

    // One add uses up a one-add plan: its alerts go to the endpoint, whose receiver is gone.
    cli(
        &[
            "projects",
            "create",
            "proj_hooks",
            "--adds-per-month",
            "1",
            "--queries-per-month",
            "1",
        ],
        &env,
    )
    .ok();
    let key = cli(
        &[
            "keys",
            "create",
            "--project",
            "proj_hooks",
            "--environment",
            "development",
            "--json",
        ],
        &env,
    )
    .json();
    let auth = format!("Bearer {}", key["key"].as_str().unwrap());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_hooks"),
    ];
    let (status, _) = public
        .send("POST", "/v1/memories", &headers, r#"{"text":"a"}"#)
        .await;
    assert_eq!(status, 200);

    let shown = until(
        &["webhooks", "endpoints", "show", &id, "--json"],
        &env,
        |e| e["state"] == "disabled_gone",
    );
    assert_eq!(shown["owner"], "api");
    let letters = until(&["webhooks", "dead-letters", "--json"], &env, |l| {
        l["count"].as_u64() >= Some(1)
    });
    let letter = letters["items"][0]["id"].as_str().unwrap().to_owned();
    let attempts = cli(
        &[
            "webhooks",
            "attempts",
            "--endpoint",
            &id,
            "--status",
            "410",
            "--json",
        ],
        &env,
    )
    .json();
    let attempts = attempts
        .as_array()
        .or_else(|| attempts["items"].as_array())
        .unwrap()
        .clone();
    assert!(!attempts.is_empty(), "the 410 attempt is logged");
    assert!(
        cli(&["webhooks", "dead-letters"], &env)
            .ok()
            .contains(&letter)
    );

    let enabled = cli(&["webhooks", "endpoints", "enable", &id, "--json"], &env).json();
    assert_eq!(enabled["state"], "enabled");
    cli(&["webhooks", "replay", &letter], &env).ok();
    cli(
        &["webhooks", "replay", "--since", "2020-01-01T00:00:00Z"],
        &env,
    )
    .ok();
    let unknown = cli(
        &["webhooks", "replay", "dl_00000000000000000000000000000000"],
        &env,
    );
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(
        unknown.stderr.contains("unknown_dead_letter"),
        "{unknown:?}"
    );

    let rotated = cli(&["webhooks", "endpoints", "rotate-secret", &id], &env).ok();
    let (new_secret, _) = rotated.split_once("\n\n").unwrap();
    WebhookSecret::parse(new_secret).expect("the new secret alone on the first line");
    assert_ne!(new_secret, first);
    let disabled = cli(
        &[
            "webhooks",
            "endpoints",
            "update",
            &id,
            "--disable",
            "--json",
        ],
        &env,
    )
    .json();
    assert_eq!(disabled["state"], "disabled_by_operator");
    cli(&["webhooks", "endpoints", "delete", &id], &env).ok();
    let gone = cli(&["webhooks", "endpoints", "show", &id], &env);
    assert_eq!(gone.code, Some(1));
    assert!(gone.stderr.contains("unknown_endpoint"), "{gone:?}");
}
