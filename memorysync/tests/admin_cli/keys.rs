//! Every `keys` command end to end: a key created by the CLI works on the public listener, its
//! usage shows, an update, a rotation with a grace, a revocation, and the list as JSON (every
//! page) and as a table.
#![allow(clippy::unwrap_used)]

use memorysync_pipeline::key::ApiKey;
use serde_json::Value;

use crate::cli::{FILE_KEY, PROJECT, Secrets, cli, serve};
use crate::client::Running;

/// A call of the memory API with `key`: its status and problem code.
async fn use_key(public: &Running, key: &str) -> (u16, Option<String>) {
    let auth = format!("Bearer {key}");
    let headers = [("authorization", auth.as_str()), ("x-project-id", PROJECT)];
    let (status, body) = public
        .send("POST", "/v1/memories", &headers, r#"{"text":"a"}"#)
        .await;
    (status, body["code"].as_str().map(str::to_owned))
}

/// The key on the first line alone, then a blank line, then the record's fields.
fn split_key(stdout: &str) -> (ApiKey, &str) {
    let (first, rest) = stdout
        .split_once("\n\n")
        .expect("a blank line after the key");
    let key = ApiKey::parse(first).expect("the first line is the key alone");
    assert!(!rest.contains(first), "the key is printed once");
    (key, rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_keys_command_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::new();
    let server = serve(dir.path(), &secrets.config(""), "cli-keys").await;
    let public = Running::at(server.addr);
    let url = format!("http://{}", server.admin.unwrap());
    // The URL from the variable, the token from the default variable.
    let env = [
        ("MEMORYSYNC_ADMIN_URL", url.as_str()),
        ("MEMORYSYNC_ADMIN_TOKEN", secrets.admin.expose_secret()),
    ];

    let created = cli(
        &[
            "keys",
            "create",
            "--project",
            PROJECT,
            "--environment",
            "development",
            "--id",
            "key_cli",
            "--rps",
            "50",
            "--rps-window",
            "4s",
        ],
        &env,
    )
    .ok();
    let (key, record) = split_key(&created);
    assert!(record.starts_with("ID           key_cli\n"), "{record}");
    assert!(record.contains("\nRPS          50\n") && record.contains("\nOWNER        api\n"));
    assert!(
        record.contains("\nRPS_WINDOW   4s\nRPM_WINDOW   -\n"),
        "{record}"
    );
    assert_eq!(use_key(&public, key.expose_secret()).await, (200, None));

    let shown = cli(&["keys", "show", "key_cli", "--json"], &env).json();
    assert_eq!(
        (
            shown["usage"]["requests"].as_u64(),
            shown["status"].as_str()
        ),
        (Some(1), Some("active"))
    );
    assert!(shown.get("key").is_none() && !shown.to_string().contains(key.expose_secret()));

    let updated = cli(
        &[
            "keys",
            "update",
            "key_cli",
            "--rpm",
            "600",
            "--rps",
            "none",
            "--rpm-window",
            "10m",
        ],
        &env,
    )
    .ok();
    assert!(
        updated.contains("\nRPS          -\nRPM          600\nRPS_WINDOW   4s\nRPM_WINDOW   10m\n"),
        "{updated}"
    );

    let rotated = cli(
        &[
            "keys",
            "rotate",
            "key_cli",
            "--grace",
            "1h",
            "--new-id",
            "key_cli_2",
        ],
        &env,
    )
    .ok();
    let (new_key, record) = split_key(&rotated);
    assert!(record.starts_with("ID           key_cli_2\n"), "{record}");
    assert!(
        record.contains("\nRPM          600\nRPS_WINDOW   4s\nRPM_WINDOW   10m\n"),
        "the limits and windows carry over: {record}"
    );
    assert!(
        record.contains("the previous key key_cli works until "),
        "{record}"
    );
    assert_eq!(use_key(&public, new_key.expose_secret()).await, (200, None));
    assert_eq!(
        use_key(&public, key.expose_secret()).await,
        (200, None),
        "within its grace"
    );

    let revoked = cli(&["keys", "revoke", "key_cli"], &env).ok();
    assert!(revoked.contains("\nSTATUS       revoked\n"), "{revoked}");
    assert_eq!(
        use_key(&public, key.expose_secret()).await,
        (401, Some("revoked_api_key".to_owned()))
    );

    // More keys than one page holds (50): the list reads every page.
    let admin = Running::at(server.admin.unwrap());
    let bearer = format!("Bearer {}", secrets.admin.expose_secret());
    for n in 0..50 {
        let body =
            format!(r#"{{"project":"{PROJECT}","environment":"development","id":"key_n{n:02}"}}"#);
        let (status, _) = admin
            .send(
                "POST",
                "/admin/v1/keys",
                &[("authorization", &bearer)],
                &body,
            )
            .await;
        assert_eq!(status, 201);
    }
    let listed = cli(&["keys", "list", "--json"], &env).json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 53, "{ids:?}");
    assert_eq!(&ids[..3], ["key_cli", "key_cli_2", FILE_KEY]);
    assert_eq!(listed["next_cursor"], Value::Null);

    let first = cli(&["keys", "list", "--json", "--limit", "2"], &env).json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert!(
        first["next_cursor"].is_string(),
        "the list goes on: {first}"
    );

    let table = cli(
        &["keys", "list", "--project", PROJECT, "--limit", "3"],
        &env,
    )
    .ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "PROJECT",
            "ENV",
            "STATUS",
            "RPS",
            "RPM",
            "RPS_WINDOW",
            "RPM_WINDOW",
            "REQUESTS",
            "LAST_USED",
            "OWNER"
        ]
    );
    let revoked_row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        revoked_row[..9],
        [
            "key_cli",
            PROJECT,
            "development",
            "revoked",
            "-",
            "600",
            "4s",
            "10m",
            "2"
        ]
    );
    assert_eq!(revoked_row[10..], ["api"]);
    // Each column starts where its header does.
    let at = lines[0].find("STATUS").unwrap();
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l[at..].starts_with(['a', 'r'])),
        "{table}"
    );
    assert!(
        lines[3].starts_with(FILE_KEY) && lines[3].ends_with("config"),
        "{table}"
    );

    server.kill().await;
}
