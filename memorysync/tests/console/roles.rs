//! What the browser may not do: a `read` login sees no control that changes anything on any
//! page and its forged POST is refused; an admin's form without its CSRF token is refused.
#![allow(clippy::unwrap_used)]

use crate::browser::Browser;
use crate::operator::log_in;
use crate::server::Console;

/// Every page of the console that lists something.
const PAGES: [&str; 6] = [
    "/admin/",
    "/admin/keys",
    "/admin/projects",
    "/admin/webhooks",
    "/admin/webhooks/attempts",
    "/admin/audit",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_login_sees_no_controls_and_a_form_without_its_csrf_token_is_refused() {
    let console = Console::start("console-roles").await;
    let Some(browser) = Browser::open(console.server.admin.unwrap()).await else {
        return;
    };
    let made = r#"{"project":"proj_console","environment":"development","id":"key_made"}"#;
    assert_eq!(console.api("POST", "/admin/v1/keys", made).await.0, 201);
    log_in(&browser, console.reader.expose_secret()).await;
    for page in PAGES {
        browser.goto(page).await;
        // The one form that posts is the logout; the filters' forms only GET.
        assert_eq!(browser.count("form[method=post]").await, 1, "{page}");
        assert_eq!(browser.count("form[method=post] button").await, 1, "{page}");
        assert_eq!(browser.text("form[method=post] button").await, "Log out");
        assert!(browser.text("nav").await.contains("(read only)"));
    }
    browser.goto("/admin/keys").await;
    browser.screenshot("keys-read-only").await;
    browser.goto("/admin/keys/key_made/revoke").await;
    assert!(browser.text("h1").await.contains("key_made"));
    assert_eq!(browser.count("form[method=post]").await, 1);

    // A form the page never offered, posted with the session's own CSRF token: refused.
    browser.goto("/admin/keys").await;
    browser
        .run(
            "const csrf = document.querySelector('input[name=csrf]').value;
             const form = document.createElement('form');
             form.method = 'post';
             form.action = '/admin/keys';
             for (const [name, value] of [['csrf', csrf], ['project', 'proj_console'],
                                          ['environment', 'development']]) {
                 const input = document.createElement('input');
                 input.name = name;
                 input.value = value;
                 form.append(input);
             }
             document.body.append(form);
             form.submit();",
        )
        .await;
    crate::operator::until("the forged form's refusal loads", async || {
        browser.source().await.contains("read_only_token")
    })
    .await;
    assert!(browser.text("h1").await.contains("403"));
    let (_, keys) = console.api("GET", "/admin/v1/keys", "").await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "{keys}");
    browser.goto("/admin/keys").await;
    browser.follow("nav form button").await;

    // An admin's create form, its CSRF field taken out: refused, nothing made.
    log_in(&browser, console.admin.expose_secret()).await;
    browser.goto("/admin/keys").await;
    browser
        .run("document.querySelector(\"form[action='/admin/keys'] input[name=csrf]\").remove();")
        .await;
    browser.fill("input[name=id]", "key_forged").await;
    browser
        .follow("form[action='/admin/keys'] button[type=submit]")
        .await;
    let body = browser.text("body").await;
    assert!(body.contains("csrf_refused"), "{body}");
    browser.screenshot("csrf-refused").await;
    let (_, keys) = console.api("GET", "/admin/v1/keys", "").await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "{keys}");
    browser.close().await;
}
