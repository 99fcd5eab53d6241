//! An operator's dashboard tasks, clicked through in Chromium: log in; make a key, copy it, see
//! it listed, use it on the public API (200); watch the quota tile reach 75% of a four-add plan
//! with its mark; see the dead letter of a receiver that was gone, enable the endpoint and
//! replay the letter to the receiver that now answers; change an API project's plan; revoke
//! the key (the public API answers 401); find it all in the audit log, and verify the chain.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::browser::Browser;
use crate::server::{Console, PROJECT};
use crate::status_receiver::Receiver;

/// How long the server may take to deliver, dead-letter or record what the test waits for.
const WITHIN: Duration = Duration::from_secs(20);

/// Polls `done` every 50 ms until it holds, at most [`WITHIN`].
pub(crate) async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    tokio::time::timeout(WITHIN, async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within {WITHIN:?}"));
}

/// Logs `browser` in with `token`; the console answers with the overview.
pub(crate) async fn log_in(browser: &Browser, token: &str) {
    browser.goto("/admin/keys").await;
    assert_eq!(browser.path().await, "/admin/login");
    browser.fill("input[name=token]", token).await;
    browser.follow("form[action='/admin/login'] button").await;
    assert_eq!(
        browser.path().await,
        "/admin/",
        "{}",
        browser.source().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_does_the_dashboard_tasks_in_the_browser() {
    let console = Console::start("console-operator").await;
    let Some(browser) = Browser::open(console.server.admin.unwrap()).await else {
        return;
    };
    // The quota alerts' receiver is gone for now: its 410 turns the first alert into a dead
    // letter.
    let receiver = Receiver::default();
    let hook = receiver.serve().await;
    receiver.status.store(410, Ordering::SeqCst);
    let endpoint = json!({"url": hook, "events": ["quota.threshold", "quota.exhausted"]});
    let (status, created) = console
        .api(
            "POST",
            "/admin/v1/webhooks/endpoints",
            &endpoint.to_string(),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let endpoint = created["endpoint"]["id"].as_str().unwrap().to_owned();

    browser.goto("/admin/login").await;
    browser.screenshot("login").await;
    log_in(&browser, console.admin.expose_secret()).await;

    // A key, shown once, with a copy button the script adds.
    browser.goto("/admin/keys").await;
    browser.fill("input[name=id]", "key_browser").await;
    browser
        .follow("form[action='/admin/keys'] button[type=submit]")
        .await;
    let key = browser.find("#new-key").await.prop("value").await.unwrap();
    let key = key.expect("the new key in its field");
    assert!(key.starts_with("msk_test_"), "{key}");
    browser.click("#copy-key").await;
    until("the copy button says it copied", async || {
        browser.text("#copy-key").await == "Copied"
    })
    .await;
    browser.screenshot("key-made").await;

    // Listed; then used three times on the public API, and its usage shows it.
    browser.goto("/admin/keys").await;
    assert!(browser.text("#key-key_browser").await.contains(PROJECT));
    for _ in 0..3 {
        assert_eq!(console.add(&key).await, (200, true));
    }
    browser.goto("/admin/keys").await;
    let row = browser.text("#key-key_browser").await;
    assert!(row.contains(" 3 "), "three requests: {row}");
    assert!(!row.contains("never"), "{row}");
    browser.screenshot("keys").await;

    // Three adds of four: the tile at 75%, the 75% mark reached, 90 and 100 not.
    browser.goto("/admin/projects").await;
    let tile = format!("#tile-{PROJECT}");
    let text = browser.text(&tile).await;
    assert!(text.contains("adds: 3 / 4 (75%)"), "{text}");
    let adds = format!("{tile} .bar[aria-label='adds 75%']");
    let fill = browser.find(&format!("{adds} .fill")).await;
    assert_eq!(
        fill.attr("style").await.unwrap().as_deref(),
        Some("width: 75%")
    );
    let reached = browser.find(&format!("{adds} .mark.reached")).await;
    assert_eq!(reached.text().await.unwrap(), "75%");
    assert_eq!(browser.count(&format!("{adds} .mark")).await, 3);
    assert_eq!(browser.count(&format!("{adds} .mark.reached")).await, 1);
    browser.screenshot("projects").await;

    // The alert's delivery met the 410: a dead letter, counted on the overview.
    until("the 410 dead-letters the alert", async || {
        let (_, letters) = console
            .api("GET", "/admin/v1/webhooks/dead-letters", "")
            .await;
        letters["count"] == 1
    })
    .await;
    browser.goto("/admin/").await;
    assert_eq!(browser.text("#dead-letters").await, "1");
    browser.screenshot("overview").await;

    // The receiver answers again: the endpoint enabled, the letter replayed, delivered.
    browser.goto("/admin/webhooks").await;
    let row = format!("#endpoint-{endpoint}");
    assert!(browser.text(&row).await.contains("disabled_gone"));
    browser.screenshot("webhooks").await;
    receiver.status.store(200, Ordering::SeqCst);
    let before = receiver.received.load(Ordering::SeqCst);
    browser.follow(&format!("{row} button")).await;
    assert_eq!(browser.path().await, "/admin/webhooks");
    assert!(browser.text(&row).await.contains("enabled"));
    browser.follow("tr[id^='letter-'] button").await;
    assert_eq!(browser.text("#dead-letter-count").await, "0");
    until("the replayed letter arrives", async || {
        receiver.received.load(Ordering::SeqCst) > before
    })
    .await;
    until("the delivery is in the attempts log", async || {
        let (_, page) = console
            .api("GET", "/admin/v1/webhooks/attempts?status=delivered", "")
            .await;
        page["items"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    browser.goto("/admin/webhooks/attempts").await;
    let attempts = browser.text("#attempts").await;
    assert!(
        attempts.contains("410") && attempts.contains("200"),
        "{attempts}"
    );
    browser.fill("input[name=status]", "410").await;
    browser.follow("#attempt-filters button").await;
    assert_eq!(browser.count("#attempts tr.attempt").await, 1);
    browser.screenshot("attempts").await;

    // A project the API manages gets a form; the config file's project says where it is set.
    let project = json!({"id": "proj_api", "adds_per_month": 10, "queries_per_month": 10});
    let (status, _) = console
        .api("POST", "/admin/v1/projects", &project.to_string())
        .await;
    assert_eq!(status, 201);
    browser.goto("/admin/projects").await;
    let file_owned = format!("form[action='/admin/projects/{PROJECT}/plan']");
    assert_eq!(browser.count(&file_owned).await, 0);
    let form = "form[action='/admin/projects/proj_api/plan']";
    browser
        .fill(&format!("{form} input[name=adds_per_month]"), "20")
        .await;
    browser.follow(&format!("{form} button")).await;
    assert!(
        browser
            .text("#tile-proj_api")
            .await
            .contains("adds: 0 / 20")
    );

    // Revoked after a confirmation: the public API refuses the key.
    browser.goto("/admin/keys").await;
    browser
        .follow("a[href='/admin/keys/key_browser/revoke']")
        .await;
    browser.screenshot("revoke").await;
    browser
        .follow("form[action='/admin/keys/key_browser/revoke'] button")
        .await;
    assert_eq!(browser.path().await, "/admin/keys");
    assert!(browser.text("#key-key_browser").await.contains("revoked"));
    assert_eq!(console.add(&key).await.0, 401);

    // The audit log, filtered to the key's served requests; then the chain verified.
    browser.goto("/admin/audit").await;
    browser
        .fill("#audit-filters input[name=key_id]", "key_browser")
        .await;
    browser
        .click("#audit-filters select[name=outcome] option[value=allowed]")
        .await;
    browser.follow("#audit-filters button").await;
    // The three adds, and the console's calls that acted on the key, all allowed.
    let allowed = browser.count("#audit-lines tr.outcome-allowed").await;
    assert_eq!(browser.count("#audit-lines tr.line").await, allowed);
    let lines = browser.text("#audit-lines").await;
    assert_eq!(lines.matches("POST /v1/memories").count(), 3, "{lines}");
    assert!(lines.contains("POST /admin/keys "), "{lines}");
    browser
        .fill("#audit-filters input[name=key_id]", "key_browser")
        .await;
    browser
        .click("#audit-filters select[name=outcome] option[value='']")
        .await;
    browser.follow("#audit-filters button").await;
    let lines = browser.text("#audit-lines").await;
    assert!(
        lines.contains("POST /admin/keys/key_browser/revoke"),
        "{lines}"
    );
    browser.screenshot("audit").await;
    browser.follow("#verify-link").await;
    let verdict = browser.text("#verify-status").await;
    assert!(verdict.starts_with("Intact"), "{verdict}");
    assert!(browser.text("#head").await.starts_with("line "));
    browser.screenshot("audit-verify").await;

    browser.follow("nav form button").await;
    assert_eq!(browser.path().await, "/admin/login");
    browser.goto("/admin/keys").await;
    assert_eq!(browser.path().await, "/admin/login");
    browser.close().await;
}
