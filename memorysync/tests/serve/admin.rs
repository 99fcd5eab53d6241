//! The admin API on `--admin-listen`: keys made there work on the public listener at once, the
//! public listener never serves it, a SIGHUP that removes a token ends that token, and an admin
//! listener off loopback needs TLS or an explicit `allow_plaintext_admin`.
#![allow(clippy::unwrap_used)]

use memorysync_pipeline::key::AdminToken;

use crate::client::Running;
use crate::process::{ServerProcess, run_to_exit};

const PROJECT: &str = "proj_admin";

fn config(tokens: &[(&str, &AdminToken)], extra: &str) -> String {
    let mut text = format!(
        "environment = \"development\"\n{extra}\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 100\nqueries_per_month = 100\n"
    );
    for (id, token) in tokens {
        text.push_str(&format!(
            "[[admin_tokens]]\nid = \"{id}\"\nsha256 = \"{}\"\nrole = \"admin\"\n",
            token.hash().to_hex()
        ));
    }
    text
}

fn bearer(token: &AdminToken) -> String {
    format!("Bearer {}", token.expose_secret())
}

#[tokio::test]
async fn the_admin_listener_makes_keys_and_a_sighup_ends_a_removed_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memorysync.toml");
    let (ops, old) = (
        AdminToken::generate().unwrap(),
        AdminToken::generate().unwrap(),
    );
    std::fs::write(&path, config(&[("tok_ops", &ops), ("tok_old", &old)], "")).unwrap();
    let mut server = ServerProcess::start_with(
        &path,
        &["--instance", "admin-a", "--admin-listen", "127.0.0.1:0"],
        &[],
    )
    .await;
    let admin = Running::at(server.admin.expect("the admin line"));
    let public = Running::at(server.addr);

    let body = format!(r#"{{"project":"{PROJECT}","environment":"development","id":"key_made"}}"#);
    let (status, created) = admin
        .send(
            "POST",
            "/admin/v1/keys",
            &[("authorization", &bearer(&ops))],
            &body,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap();
    let auth = format!("Bearer {key}");
    let headers = [("authorization", auth.as_str()), ("x-project-id", PROJECT)];
    let (status, _) = public
        .send("POST", "/v1/memories", &headers, r#"{"text":"a"}"#)
        .await;
    assert_eq!(status, 200);
    // The public listener has no admin routes: the pipeline asks for an API key.
    let (status, body) = public
        .send(
            "GET",
            "/admin/v1/keys",
            &[("authorization", &bearer(&ops))],
            "",
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("malformed_api_key"))
    );

    std::fs::write(&path, config(&[("tok_ops", &ops)], "")).unwrap();
    server.hangup().await;
    let line = server.next_line_with("config reconciled").await;
    assert!(line.ends_with("1 admin tokens"), "{line}");
    let (status, body) = admin
        .send(
            "GET",
            "/admin/v1/keys",
            &[("authorization", &bearer(&old))],
            "",
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_admin_token"))
    );
    let (status, listed) = admin
        .send(
            "GET",
            "/admin/v1/keys",
            &[("authorization", &bearer(&ops))],
            "",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["usage"]["requests"], 1);
    let (status, _) = server.terminate().await;
    assert!(status.success());
}

#[tokio::test]
async fn the_admin_listener_serves_the_console_and_the_public_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memorysync.toml");
    let ops = AdminToken::generate().unwrap();
    std::fs::write(&path, config(&[("tok_ops", &ops)], "")).unwrap();
    let server = ServerProcess::start_with(
        &path,
        &["--instance", "console-a", "--admin-listen", "127.0.0.1:0"],
        &[],
    )
    .await;
    let admin = Running::at(server.admin.expect("the admin line"));
    let public = Running::at(server.addr);
    let (status, page) = admin.send_text("GET", "/admin/login").await;
    assert_eq!(status, 200);
    assert!(page.contains("name=\"token\""), "{page}");
    let form = format!("token={}", ops.expose_secret());
    let (status, fields, _) = admin.post_form("/admin/login", &[], &form).await;
    assert_eq!(status, 303);
    let cookie = fields["set-cookie"].to_str().unwrap();
    // Plain HTTP on loopback: the cookie is not marked Secure.
    assert!(
        cookie.contains("HttpOnly; SameSite=Strict; Path=/admin"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    let session = cookie.split(';').next().unwrap();
    let (status, fields, _) = admin
        .send_full("GET", "/admin/projects", &[("cookie", session)], "")
        .await;
    assert_eq!(status, 200);
    assert!(
        fields["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let (status, _) = public.send_text("GET", "/admin/login").await;
    assert_eq!(status, 401, "the public listener asks for an API key");
    server.kill().await;
}

#[tokio::test]
async fn an_admin_listener_off_loopback_needs_tls_or_an_explicit_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memorysync.toml");
    let ops = AdminToken::generate().unwrap();
    std::fs::write(&path, config(&[("tok_ops", &ops)], "")).unwrap();
    let (status, stderr) = run_to_exit(&path, &["--admin-listen", "0.0.0.0:0"]).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("allow_plaintext_admin"), "{stderr}");

    let allowed = config(
        &[("tok_ops", &ops)],
        "[server]\nallow_plaintext_admin = true\n",
    );
    std::fs::write(&path, allowed).unwrap();
    let server = ServerProcess::start_with(
        &path,
        &["--instance", "admin-b", "--admin-listen", "0.0.0.0:0"],
        &[],
    )
    .await;
    assert!(server.admin.is_some());
    server.kill().await;
}
