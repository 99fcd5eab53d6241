//! The `projects` and `audit` commands end to end: a project and its plan made by the CLI meter
//! the public listener at once, the tile shows the month's use, and the audit log read back
//! and verified from outside the process.
#![allow(clippy::unwrap_used)]

use crate::cli::{PROJECT, Secrets, cli, serve};
use crate::client::Running;

/// An add to `project` with `key`: served (`true`) or degraded (`false`).
async fn served(public: &Running, key: &str, project: &str) -> bool {
    let auth = format!("Bearer {key}");
    let headers = [("authorization", auth.as_str()), ("x-project-id", project)];
    let (status, body) = public
        .send("POST", "/v1/memories", &headers, r#"{"text":"a"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    !body["results"].as_array().unwrap().is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_and_the_audit_log_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::new();
    let server = serve(dir.path(), &secrets.config(""), "cli-projects").await;
    let public = Running::at(server.addr);
    let url = format!("http://{}", server.admin.unwrap());
    let env = [
        ("MEMORYSYNC_ADMIN_URL", url.as_str()),
        ("MEMORYSYNC_ADMIN_TOKEN", secrets.admin.expose_secret()),
    ];

    let created = cli(
        &[
            "projects",
            "create",
            "proj_new",
            "--adds-per-month",
            "1",
            "--queries-per-month",
            "10",
            "--json",
        ],
        &env,
    )
    .json();
    assert_eq!(created["owner"], "api", "{created}");
    let key = cli(
        &[
            "keys",
            "create",
            "--project",
            "proj_new",
            "--environment",
            "development",
            "--json",
        ],
        &env,
    )
    .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(served(&public, &key, "proj_new").await);
    assert!(
        !served(&public, &key, "proj_new").await,
        "the month's one add is used"
    );

    cli(
        &[
            "projects",
            "set-plan",
            "proj_new",
            "--adds-per-month",
            "2",
            "--queries-per-month",
            "10",
            "--alert-thresholds",
            "50",
        ],
        &env,
    )
    .ok();
    assert!(
        served(&public, &key, "proj_new").await,
        "the raised plan is in force at once"
    );
    let shown = cli(&["projects", "show", "proj_new", "--json"], &env).json();
    assert_eq!(shown["tile"]["adds"]["used"], 2, "{shown}");
    assert_eq!(
        shown["tile"]["adds"]["alerts_fired"],
        serde_json::json!([50])
    );
    let table = cli(&["projects", "list"], &env).ok();
    assert!(
        table.contains("proj_new") && table.contains(PROJECT),
        "{table}"
    );
    // The file's project is the file's.
    let refused = cli(
        &[
            "projects",
            "set-plan",
            PROJECT,
            "--adds-per-month",
            "1",
            "--queries-per-month",
            "1",
        ],
        &env,
    );
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(refused.stderr.contains("owned_by_config"), "{refused:?}");

    let events = cli(
        &[
            "audit",
            "query",
            "--project",
            "proj_new",
            "--outcome",
            "degraded",
            "--json",
        ],
        &env,
    )
    .json();
    let events = events
        .as_array()
        .or_else(|| events["items"].as_array())
        .unwrap()
        .clone();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["path"], "/v1/memories");
    let table = cli(
        &["audit", "query", "--key-id", "key_file", "--limit", "5"],
        &env,
    )
    .ok();
    assert!(table.lines().count() >= 1, "{table}");
    let verified = cli(&["audit", "verify-remote", "--json"], &env).json();
    assert_eq!(verified["ok"], true, "{verified}");
    let read_only = [
        ("MEMORYSYNC_ADMIN_URL", url.as_str()),
        ("MEMORYSYNC_ADMIN_TOKEN", secrets.reader.expose_secret()),
    ];
    cli(&["audit", "verify-remote"], &read_only).ok();
}
