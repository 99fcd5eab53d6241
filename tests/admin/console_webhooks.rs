//! The console's webhooks page: an endpoint a 410 disabled is shown so, its dead letter is
//! counted and listed, and the console's forms enable the endpoint and replay the letter to a
//! receiver that answers again.

use http::StatusCode;
use memorysync_pipeline::clock::Clock;
use memorysync_pipeline::webhook::WebhookSecret;
use serde_json::json;

use crate::common::hooks::{Hook, eventually};
use crate::console_client::Browser;
use crate::harness::{Admin, Backend, PROJECT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_shown_and_replayed_from_the_console() {
    let admin = Admin::start(Backend::Memory).await;
    let mut hook = Hook::start().await;
    let events = ["quota.threshold", "quota.exhausted"];
    let (status, created) = admin
        .call(
            "POST",
            "/admin/v1/webhooks/endpoints",
            Some(json!({"url": hook.url("/hook"), "events": events})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap();
    let id = created["endpoint"]["id"].as_str().unwrap().to_owned();

    // The receiver is gone: the first threshold's delivery disables the endpoint.
    hook.answer(410);
    let key = admin.file_key.expose_secret().to_owned();
    for _ in 0..3 {
        assert!(admin.served(&key, PROJECT).await);
    }
    // All three alerts (75, 90, 100%) settle as dead letters before the endpoint is enabled
    // below: an attempt still in flight would disable it again with its 410.
    eventually("the three alerts are dead letters", async || {
        let (_, letters) = admin
            .call("GET", "/admin/v1/webhooks/dead-letters", None)
            .await;
        letters["count"].as_u64() == Some(3)
    })
    .await;

    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let overview = browser.get("/admin/").await;
    assert!(
        !overview.body.contains("id=\"dead-letters\">0<"),
        "{}",
        overview.body
    );
    let page = browser.get("/admin/webhooks").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let row = &page.body[page.body.find(&format!("id=\"endpoint-{id}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("disabled_gone"), "{row}");
    assert!(!page.body.contains(&secret.expose()));
    let at = page.body.find("id=\"letter-").expect("a dead letter") + 11;
    let letter = page.body[at..at + page.body[at..].find('"').unwrap()].to_owned();

    hook.answer(200);
    while hook.waiting() > 0 {}
    let csrf = page.csrf();
    let enabled = browser
        .post(
            &format!("/admin/webhooks/endpoints/{id}/enable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(enabled.status, StatusCode::SEE_OTHER, "{}", enabled.body);
    let replayed = browser
        .post(
            &format!("/admin/webhooks/dead-letters/{letter}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER, "{}", replayed.body);
    let lines = admin.audit_lines().await;
    let replay = lines.iter().rev().find(|l| l["method"] == "POST").unwrap();
    assert_eq!(
        replay["detail"],
        format!("admin token=tok_ops result=ok dead_letter={letter}")
    );
    assert!(hook.next().await.verifies(&secret, admin.clock.now()));
    let page = browser.get("/admin/webhooks").await;
    assert!(!page.body.contains(&format!("id=\"letter-{letter}\"")));
    // A letter replayed is gone: replaying it again is the API's 404, as a page.
    let again = browser
        .post(
            &format!("/admin/webhooks/dead-letters/{letter}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.body.contains("unknown_dead_letter"));
}
