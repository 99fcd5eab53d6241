//! The admin API against its own OpenAPI document, fuzzed by the Python `schemathesis` package
//! with a fixed seed: no 5xx, and no answer (status, content type, headers, body) that the
//! document contradicts.

use std::future::IntoFuture;

use memorysync_pipeline::admin::AdminApi;

use crate::common::standardwebhooks::packages::{installed, or_skip};
use crate::harness::{Admin, Backend};

/// What an answer is checked against: the document, and the absence of server errors.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_contradicts() {
    let Some(packages) = or_skip(installed("schemathesis", "schemathesis")) else {
        return;
    };
    let admin = Admin::start(Backend::Memory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, admin.router.clone()).into_future());

    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("openapi.json");
    std::fs::write(&document, serde_json::to_vec(&AdminApi::openapi()).unwrap()).unwrap();
    let output = tokio::process::Command::new("python3")
        .args(["-m", "schemathesis.cli", "run"])
        .arg(&document)
        .args(["--url", &format!("http://{addr}")])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", admin.admin.expose_secret()),
        ])
        .args(["--checks", CHECKS, "--seed", "1", "--max-examples", "25"])
        .args(["--no-color", "--generation-database", "none"])
        .current_dir(dir.path())
        .env("PYTHONPATH", &packages)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
