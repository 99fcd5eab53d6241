//! The console's sessions: login, the cookie, expiry by the deployment's clock, logout, CSRF
//! and the read role's refusals, each audited.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use memorysync_pipeline::admin::{AdminApi, AdminTokens};
use memorysync_pipeline::key::{AdminRole, AdminTokenRecord};

use crate::console_client::Browser;
use crate::harness::{Admin, Backend};

/// The audit lines of console paths (not the API's), oldest first.
async fn console_lines(admin: &Admin) -> Vec<serde_json::Value> {
    let lines = admin.audit_lines().await;
    lines
        .into_iter()
        .filter(|l| {
            l["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/admin") && !p.starts_with("/admin/v1"))
        })
        .collect()
}

#[tokio::test]
async fn login_with_a_listed_token_opens_a_session_and_others_are_refused() {
    let admin = Admin::start(Backend::Memory).await;
    let mut browser = Browser::new(admin.router.clone());
    // No session: pages ask to log in.
    let page = browser.get("/admin/keys").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/admin/login");
    assert!(
        browser
            .get("/admin/login")
            .await
            .body
            .contains("name=\"token\"")
    );

    let other = memorysync_pipeline::key::AdminToken::generate().unwrap();
    for (token, code) in [
        ("msa_short", "malformed_admin_token"),
        (other.expose_secret(), "invalid_admin_token"),
    ] {
        let page = browser.login(token).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{code}");
        assert!(page.headers.get("set-cookie").is_none());
        assert!(page.body.contains("name=\"token\""), "{}", page.body);
    }

    let page = browser.login(admin.admin.expose_secret()).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/admin/");
    let cookie = page.set_cookie();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let overview = browser.get("/admin/").await;
    assert_eq!(overview.status, StatusCode::OK);
    let policy = overview.headers["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert_eq!(overview.headers["cache-control"], "no-store");
    assert_eq!(overview.headers["x-frame-options"], "DENY");
    assert_eq!(overview.headers["x-content-type-options"], "nosniff");
    assert_eq!(overview.headers["referrer-policy"], "no-referrer");
    assert!(
        overview.body.contains("id=\"key-count\">1</a>"),
        "{}",
        overview.body
    );
    // The one script the policy allows is served to anyone, as a script.
    let script = Browser::new(admin.router.clone())
        .get("/admin/console.js")
        .await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(script.body.contains("data-copy"));
    assert!(overview.body.contains("token tok_ops"), "{}", overview.body);

    let reader = Browser::logged_in(admin.router.clone(), admin.reader.expose_secret()).await;
    assert!(reader.get("/admin/").await.body.contains("(read only)"));

    // Each attempt is in the audit chain, the token never.
    let lines = console_lines(&admin).await;
    let details: Vec<&str> = lines
        .iter()
        .map(|l| l["detail"].as_str().unwrap())
        .collect();
    assert!(
        details.contains(&"admin token=none result=malformed_admin_token"),
        "{details:?}"
    );
    assert!(details.contains(&"admin token=none result=invalid_admin_token"));
    assert!(details.contains(&"admin token=tok_ops result=ok"));
    assert!(details.contains(&"admin token=tok_read result=ok"));
    let all = serde_json::to_string(&lines).unwrap();
    assert!(!all.contains(admin.admin.expose_secret()));
    assert!(!all.contains(other.expose_secret()));
}

/// A console over tokens the test holds, on `admin`'s deployment.
#[tokio::test]
async fn a_login_from_another_site_or_without_a_token_is_refused_and_a_login_ends_the_last() {
    let admin = Admin::start(Backend::Memory).await;
    let token = admin.admin.expose_secret();
    let mut browser = Browser::new(admin.router.clone());

    // Another site's page posting a valid token: no session.
    let page = browser
        .post_with(
            "/admin/login",
            &[("token", token)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.headers.get("set-cookie").is_none());
    assert!(page.body.contains("csrf_refused"), "{}", page.body);
    // A form without its field: a typed 400, not a login.
    let page = browser.post("/admin/login", &[("other", "x")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.headers.get("set-cookie").is_none());

    // The console's own page posts same-origin: logged in.
    let page = browser
        .post_with(
            "/admin/login",
            &[("token", token)],
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let first = page.set_cookie().split(';').next().unwrap().to_owned();
    browser.cookie = Some(first.clone());
    // Logging in again from that browser ends the session it came with.
    let page = browser.login(token).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let mut old = Browser::new(admin.router.clone());
    old.cookie = Some(first);
    let page = old.get("/admin/").await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/admin/login")
    );
    assert_eq!(browser.get("/admin/").await.status, StatusCode::OK);

    let details: Vec<String> = console_lines(&admin)
        .await
        .iter()
        .map(|l| l["detail"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        details.contains(&"admin token=none result=csrf_refused".to_owned()),
        "{details:?}"
    );
    assert!(
        details.contains(&"admin token=none result=bad_request".to_owned()),
        "{details:?}"
    );
}

fn console_with(admin: &Admin, tokens: &AdminTokens, tls: bool) -> axum::Router {
    AdminApi::new(Arc::clone(&admin.deployment), tokens.clone())
        .secure_cookies(tls)
        .router()
}

#[tokio::test]
async fn the_cookie_is_secure_over_tls_and_a_removed_token_ends_its_sessions() {
    let admin = Admin::start(Backend::Memory).await;
    let record = AdminTokenRecord::new("tok_ops", admin.admin.hash(), AdminRole::Admin);
    let tokens = AdminTokens::new(vec![record]);
    let mut browser = Browser::new(console_with(&admin, &tokens, true));
    let page = browser.login(admin.admin.expose_secret()).await;
    assert!(
        page.set_cookie().contains("; Secure"),
        "{}",
        page.set_cookie()
    );
    assert_eq!(browser.get("/admin/").await.status, StatusCode::OK);

    // A reload that removes the token: its session ends at the next request.
    tokens.replace(Vec::new());
    let page = browser.get("/admin/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/admin/login");
    // And stays ended when the token comes back.
    let record = AdminTokenRecord::new("tok_ops", admin.admin.hash(), AdminRole::Admin);
    tokens.replace(vec![record]);
    assert_eq!(browser.get("/admin/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_or_8_hours_and_at_logout() {
    let admin = Admin::start(Backend::Memory).await;
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    admin.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(browser.get("/admin/").await.status, StatusCode::OK);
    admin.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(browser.get("/admin/").await.status, StatusCode::SEE_OTHER);

    // Busy all along, a session still ends 8 hours after its login.
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    for _ in 0..23 {
        admin.clock.advance(Duration::from_secs(20 * 60));
        assert_eq!(browser.get("/admin/").await.status, StatusCode::OK);
    }
    admin.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(browser.get("/admin/").await.status, StatusCode::SEE_OTHER);

    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let csrf = browser.get("/admin/").await.csrf();
    let page = browser.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/admin/login");
    assert!(page.set_cookie().contains("Max-Age=0"));
    assert_eq!(browser.get("/admin/").await.status, StatusCode::SEE_OTHER);
    // Logging out of a session that is over already leads to the login form too.
    let page = browser.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/admin/login")
    );
}

#[tokio::test]
async fn a_post_without_the_session_csrf_token_is_refused_and_audited() {
    let admin = Admin::start(Backend::Memory).await;
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let fields = [
        ("project", "proj_demo"),
        ("environment", "development"),
        ("id", "key_x"),
    ];
    let page = browser.post("/admin/keys", &fields).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("csrf_refused"), "{}", page.body);
    let wrong = [
        ("csrf", "AAAA"),
        ("project", "proj_demo"),
        ("environment", "development"),
    ];
    assert_eq!(
        browser.post("/admin/keys", &wrong).await.status,
        StatusCode::FORBIDDEN
    );
    // Another session's token is as wrong.
    let other = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let theirs = other.get("/admin/").await.csrf();
    let page = browser
        .post("/admin/keys/key_file/revoke", &[("csrf", &theirs)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(
        admin.add_with(admin.file_key.expose_secret()).await.0,
        StatusCode::OK
    );
    // No key was made; no session, no POST.
    let (_, keys) = admin.call("GET", "/admin/v1/keys", None).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    let anonymous = Browser::new(admin.router.clone());
    let page = anonymous
        .post("/admin/keys/key_file/revoke", &[("csrf", &theirs)])
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);

    let lines = console_lines(&admin).await;
    let refused: Vec<_> = lines
        .iter()
        .filter(|l| l["detail"] == "admin token=tok_ops result=csrf_refused")
        .collect();
    assert_eq!(refused.len(), 3, "{lines:#?}");
    assert!(
        refused
            .iter()
            .all(|l| l["outcome"] == "forbidden" && l["status"] == 403)
    );
}

#[tokio::test]
async fn a_read_session_sees_no_controls_and_its_posts_are_refused() {
    let admin = Admin::start(Backend::Memory).await;
    let reader = Browser::logged_in(admin.router.clone(), admin.reader.expose_secret()).await;
    for path in [
        "/admin/",
        "/admin/keys",
        "/admin/projects",
        "/admin/webhooks",
        "/admin/keys/key_file/revoke",
    ] {
        let page = reader.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        // The logout is the one form.
        assert_eq!(page.forms(), 1, "{path}: {}", page.body);
        assert!(page.body.contains("action=\"/admin/logout\""));
        assert!(
            !page.body.contains("<button type=\"submit\">Revoke"),
            "{path}"
        );
    }
    let csrf = reader.get("/admin/").await.csrf();
    let page = reader
        .post("/admin/keys/key_file/revoke", &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("read_only_token"));
    assert_eq!(
        admin.add_with(admin.file_key.expose_secret()).await.0,
        StatusCode::OK
    );
    let lines = console_lines(&admin).await;
    assert!(
        lines
            .iter()
            .any(|l| l["detail"] == "admin token=tok_read result=read_only_token")
    );
}
