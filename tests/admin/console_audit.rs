//! The console's audit and attempts pages: the filters narrow the lines, a page links to the
//! older ones with the same filters, a bad filter is a 400 or 422 page, the chain's
//! verification shows its head; and a form that does not parse is refused and audited with its
//! code.

use http::StatusCode;

use crate::console_client::Browser;
use crate::harness::{Admin, Backend, PROJECT};

#[tokio::test]
async fn the_audit_page_filters_by_key_outcome_and_time_and_links_to_older_lines() {
    let admin = Admin::start(Backend::Memory).await;
    let key = admin.file_key.expose_secret().to_owned();
    // Three adds of the plan's three, then one degraded, and 105 refused keys.
    for _ in 0..3 {
        assert!(admin.served(&key, PROJECT).await);
    }
    assert!(!admin.served(&key, PROJECT).await);
    // The last character changed (to one it is not): refused as malformed.
    let last = if key.ends_with('x') { "y" } else { "x" };
    let wrong = format!("{}{last}", &key[..key.len() - 1]);
    for _ in 0..105 {
        assert_eq!(admin.add_with(&wrong).await.0, StatusCode::UNAUTHORIZED);
    }
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;

    let page = browser
        .get("/admin/audit?key_id=key_file&outcome=allowed&project=&from=&to=")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.body.matches("class=\"line outcome-allowed\"").count(),
        3
    );
    assert_eq!(page.body.matches("class=\"line ").count(), 3);
    // The form shows the filters in force.
    assert!(page.body.contains("name=\"key_id\" value=\"key_file\""));
    assert!(page.body.contains("<option value=\"allowed\" selected>"));
    assert!(!page.body.contains("id=\"older\""));

    let page = browser.get("/admin/audit?outcome=degraded").await;
    assert_eq!(page.body.matches("class=\"line ").count(), 1);

    // 105 refusals: 100 on the first page, the rest one link away, the filter kept.
    let page = browser.get("/admin/audit?outcome=unauthenticated").await;
    assert_eq!(page.body.matches("class=\"line ").count(), 100);
    let at = page.body.find("id=\"older\"").expect("an older page");
    let href = &page.body[page.body[..at].rfind("href=\"").unwrap() + 6..];
    let href = href[..href.find('"').unwrap()].replace("&#38;", "&");
    assert!(
        href.starts_with("/admin/audit?outcome=unauthenticated&cursor="),
        "{href}"
    );
    let older = browser.get(&href).await;
    assert_eq!(older.status, StatusCode::OK, "{}", older.body);
    assert_eq!(
        older
            .body
            .matches("class=\"line outcome-unauthenticated\"")
            .count(),
        5
    );
    assert!(!older.body.contains("id=\"older\""));

    // Nothing after tomorrow; a time that is not RFC 3339 and an unknown outcome refused.
    let page = browser.get("/admin/audit?from=2099-01-01T00:00:00Z").await;
    assert!(page.body.contains("No line passes these filters."));
    let page = browser.get("/admin/audit?from=yesterday").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("invalid_request"), "{}", page.body);
    let page = browser.get("/admin/audit?outcome=everything").await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    let page = browser.get("/admin/audit?cursor=not-a-cursor").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    // The refused views are in the chain with their codes.
    let lines = admin.audit_lines().await;
    assert!(lines.iter().any(|l| {
        l["path"] == "/admin/audit" && l["detail"] == "admin token=tok_ops result=invalid_request"
    }));
}

#[tokio::test]
async fn the_verify_page_shows_the_chain_intact_and_its_head() {
    let admin = Admin::start(Backend::Memory).await;
    let key = admin.file_key.expose_secret().to_owned();
    assert!(admin.served(&key, PROJECT).await);
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    // The lines so far, read without an event of their own: the last is the head the page
    // shows (lines count from 1); the page's own event comes after the chain it checks.
    let before = admin.audit_lines().await;
    let head = before.len();
    assert_eq!(
        before.last().unwrap()["seq"],
        head,
        "seq counts lines from 1"
    );
    let page = browser.get("/admin/audit/verify").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("<strong>Intact</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("line {head}, SHA-256")),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_attempts_page_lists_none_yet_and_refuses_a_status_it_does_not_know() {
    let admin = Admin::start(Backend::Memory).await;
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let page = browser
        .get("/admin/webhooks/attempts?endpoint=&status=")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("No attempt passes these filters."));
    let page = browser
        .get("/admin/webhooks/attempts?status=sometimes")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("bad_request"));
}

#[tokio::test]
async fn a_form_that_does_not_parse_is_a_400_page_and_audited_with_its_code() {
    let admin = Admin::start(Backend::Memory).await;
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let csrf = browser.get("/admin/keys").await.csrf();
    // No project, no environment.
    let page = browser.post("/admin/keys", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.body.contains("<code>bad_request</code>"),
        "{}",
        page.body
    );
    let lines = admin.audit_lines().await;
    let last = lines
        .iter()
        .rev()
        .find(|l| l["path"] == "/admin/keys")
        .unwrap();
    assert_eq!(last["method"], "POST");
    assert_eq!(last["detail"], "admin token=tok_ops result=bad_request");
    assert_eq!(last["status"], 400);
}
