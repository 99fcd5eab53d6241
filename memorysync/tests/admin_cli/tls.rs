//! The CLI over HTTPS: an admin listener with its own certificate is trusted through
//! `--ca-file`, and refused without it.
#![allow(clippy::unwrap_used)]

use crate::cert::TestCert;
use crate::cli::{Secrets, cli, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_listener_with_its_own_certificate_is_trusted_through_ca_file() {
    let cert = TestCert::new();
    let secrets = Secrets::new();
    let server = serve(cert.dir.path(), &secrets.config(&cert.table()), "cli-tls").await;
    assert!(server.https);
    let url = format!("https://localhost:{}", server.admin.unwrap().port());
    let admin = [("MEMORYSYNC_ADMIN_TOKEN", secrets.admin.expose_secret())];
    let ca = cert.cert.to_str().unwrap();

    let listed = cli(
        &[
            "keys",
            "list",
            "--json",
            "--admin-url",
            &url,
            "--ca-file",
            ca,
        ],
        &admin,
    )
    .json();
    assert_eq!(listed["items"][0]["id"], "key_file");

    // Only the Mozilla roots: the certificate is not trusted.
    let run = cli(&["keys", "list", "--admin-url", &url], &admin);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .starts_with(&format!("error: cannot reach the admin API at {url}: ")),
        "{run:?}"
    );
    assert!(run.stderr.contains("certificate"), "{run:?}");

    // A CA file that holds no certificate is named.
    let run = cli(
        &[
            "keys",
            "list",
            "--admin-url",
            &url,
            "--ca-file",
            cert.key.to_str().unwrap(),
        ],
        &admin,
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("holds no PEM CERTIFICATE"), "{run:?}");
    assert!(!run.stderr.contains("PRIVATE KEY-----"), "{run:?}");

    server.kill().await;
}
