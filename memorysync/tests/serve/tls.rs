//! `[server.tls]` end to end: an HTTPS client reaches `/health` on the public listener and
//! `/metrics` on the admin listener; a certificate that cannot be used stops the server at
//! startup, naming the file.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use crate::cert::{TestCert, get};
use crate::process::{ServerProcess, run_to_exit};

fn write_config(dir: &Path, tls_table: &str) -> std::path::PathBuf {
    let path = dir.join("memorysync.toml");
    std::fs::write(
        &path,
        format!("environment = \"development\"\n[server]\nshutdown_grace_ms = 5000\n{tls_table}"),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_client_gets_health_and_the_admin_listeners_metrics_over_tls() {
    let cert = TestCert::new();
    let config = write_config(cert.dir.path(), &cert.table());
    let server = ServerProcess::start_with(
        &config,
        &["--instance", "tls-a", "--admin-listen", "127.0.0.1:0"],
        &[],
    )
    .await;
    assert!(server.https, "the startup line says https://");
    let client = cert.https_client();

    let (status, body) = get(&client, &format!("https://{}/health", server.addr)).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = get(&client, &format!("https://{}/metrics", server.addr)).await;
    assert_eq!(status, 401, "{body}");
    let admin = server.admin.expect("the admin line");
    let (status, metrics) = get(&client, &format!("https://{admin}/metrics")).await;
    if cfg!(feature = "metrics") {
        assert_eq!(status, 200, "{metrics}");
        assert!(
            metrics
                .contains(r#"memorysync_requests_total{stage="auth",outcome="missing_api_key"} 1"#),
            "{metrics}"
        );
    } else {
        // Built without metrics, the admin listener has no routes yet.
        assert_eq!(status, 404, "{metrics}");
        assert!(metrics.contains(r#""code":"not_found""#), "{metrics}");
    }

    let (status, printed) = server.terminate().await;
    assert!(status.success(), "{status}: {printed:?}");
    // The start's reconciliation of the config, and the call without a key.
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("audit log closed: 2 events written")),
        "{printed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_or_unusable_certificate_is_a_startup_error_naming_the_file() {
    let cert = TestCert::new();
    let dir = cert.dir.path();
    let missing = dir.join("missing-cert.pem");
    let not_pem = dir.join("not-pem.pem");
    std::fs::write(&not_pem, "this is no certificate\n").unwrap();
    let other = TestCert::new();
    let table = |cert: &Path, key: &Path| {
        format!(
            "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        )
    };
    for (tls, named, why) in [
        // Checked when the config is read: the line of the field.
        (table(&missing, &cert.key), &missing, "line 5"),
        // Read when the listeners are made: the file, and what is wrong with it.
        (table(&not_pem, &cert.key), &not_pem, "no PEM CERTIFICATE"),
        (table(&cert.cert, &not_pem), &not_pem, "no PEM PRIVATE KEY"),
        (table(&cert.cert, &other.key), &cert.cert, "usable pair"),
    ] {
        let config = write_config(dir, &tls);
        let (status, error) = run_to_exit(&config, &[]).await;
        assert_eq!(status.code(), Some(1), "{error}");
        assert!(
            error.contains(&named.display().to_string()) && error.contains(why),
            "{why}: {error}"
        );
        assert!(
            !error.contains("BEGIN"),
            "no PEM text in the error: {error}"
        );
    }
}
