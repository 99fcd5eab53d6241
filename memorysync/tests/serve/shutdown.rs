//! Stopping on SIGTERM: the report printed, exit 0; audit events that could be kept nowhere
//! make the exit non-zero.
#![allow(clippy::unwrap_used)]

use crate::client::Running;
use crate::process::ServerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_lost_at_shutdown_make_the_exit_non_zero_after_the_report() {
    let state = tempfile::tempdir().unwrap();
    let gone = state.path().join("gone");
    let audit = gone.join("audit");
    let config = state.path().join("memorysync.toml");
    std::fs::write(
        &config,
        format!(
            "environment = \"development\"\n[audit]\ndir = \"{}\"\n[server]\nshutdown_grace_ms = 1000\n",
            audit.display()
        ),
    )
    .unwrap();
    // Nowhere for a fallback file: the audit directory's parent is removed below, and the
    // temporary directory does not exist.
    let no_tmp = state.path().join("no-tmp");
    let env = [("TMPDIR", no_tmp.to_str().unwrap())];
    let server = ServerProcess::start(&config, "lossy", &env).await;
    std::fs::remove_dir_all(&gone).unwrap();
    // Refused for want of a key: an audit event the log can no longer write.
    let (status, _) = Running::at(server.addr)
        .send("GET", "/v1/memories", &[], "")
        .await;
    assert_eq!(status, 401);

    let (status, printed) = server.terminate().await;
    assert_eq!(status.code(), Some(1), "{printed:?}");
    assert!(
        printed.iter().any(|l| l.starts_with("audit log closed:")),
        "the report is printed before the exit: {printed:?}"
    );
    assert!(
        !printed.iter().any(|l| l == "memorysync stopped"),
        "{printed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_with_its_report_and_exit_zero() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("memorysync.toml");
    std::fs::write(&config, "environment = \"development\"\n").unwrap();
    let server = ServerProcess::start(&config, "clean", &[]).await;
    let client = Running::at(server.addr);
    assert_eq!(client.send("GET", "/health", &[], "").await.0, 200);
    let (status, printed) = server.terminate().await;
    assert!(status.success(), "{status}: {printed:?}");
    assert_eq!(
        printed.first().map(String::as_str),
        Some("shutting down: finishing in-flight requests"),
        "{printed:?}"
    );
    assert_eq!(
        printed.last().map(String::as_str),
        Some("memorysync stopped")
    );
}
