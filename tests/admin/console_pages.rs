//! The console's pages show the admin API's data, and its forms do the API's actions: a key
//! made, listed, used, rotated and revoked (then refused by the pipeline); a plan changed and
//! its tile at 75% with its mark; everything escaped.

use http::StatusCode;
use serde_json::json;

use crate::console_client::{Browser, Page};
use crate::harness::{Admin, Backend, FILE_KEY, PROJECT};

/// The key a "key made" page shows once.
fn shown_key(page: &Page) -> String {
    let at = page.body.find("id=\"new-key\"").expect("the new key");
    let rest = &page.body[at..];
    let at = rest.find("value=\"").unwrap() + 7;
    rest[at..at + rest[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_key_made_in_the_console_is_shown_once_listed_used_and_revoked_for_good() {
    let admin = Admin::start(Backend::Memory).await;
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let keys = browser.get("/admin/keys").await;
    assert!(
        keys.body.contains(&format!("id=\"key-{FILE_KEY}\"")),
        "{}",
        keys.body
    );
    assert!(keys.body.contains("rotate in the config file"));
    let csrf = keys.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("project", PROJECT),
        ("environment", "development"),
        ("id", "key_console"),
        ("rps", "5"),
        ("rpm", ""),
        ("rps_window", " 4s "),
        ("rpm_window", ""),
    ];
    let made = browser.post("/admin/keys", &fields).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let key = shown_key(&made);
    assert!(key.starts_with("msk_test_"), "{key}");

    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);
    let keys = browser.get("/admin/keys").await;
    assert!(keys.body.contains("id=\"key-key_console\""));
    assert!(!keys.body.contains(&key), "the key is shown once");
    let row = &keys.body[keys.body.find("id=\"key-key_console\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td>1</td>"), "{row}");
    assert!(row.contains("5/s over 4s"), "{row}");

    // Revocation asks first, then the pipeline refuses the key.
    let confirm = browser.get("/admin/keys/key_console/revoke").await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Revoke key key_console?"));
    let page = browser
        .post(
            "/admin/keys/key_console/revoke",
            &[("csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), "/admin/keys");
    assert_eq!(admin.add_with(&key).await.0, StatusCode::UNAUTHORIZED);
    let keys = browser.get("/admin/keys").await;
    let row = &keys.body[keys.body.find("id=\"key-key_console\"").unwrap()..];
    assert!(row[..row.find("</tr>").unwrap()].contains("revoked"));

    let lines = admin.audit_lines().await;
    let revoke = lines
        .iter()
        .find(|l| l["path"] == "/admin/keys/key_console/revoke" && l["method"] == "POST")
        .unwrap();
    assert_eq!(revoke["key_id"], "key_console");
    assert_eq!(revoke["project"], PROJECT);
    assert_eq!(revoke["detail"], "admin token=tok_ops result=ok");
    assert!(!serde_json::to_string(&lines).unwrap().contains(&key));
}

#[tokio::test]
async fn a_rotation_shows_the_new_key_and_the_old_ones_grace() {
    let admin = Admin::start(Backend::Memory).await;
    let (_, made) = admin
        .call(
            "POST",
            "/admin/v1/keys",
            Some(json!({"project": PROJECT, "environment": "development", "id": "key_old"})),
        )
        .await;
    let old = made["key"].as_str().unwrap().to_owned();
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let csrf = browser.get("/admin/keys").await.csrf();
    let page = browser
        .post(
            "/admin/keys/key_old/rotate",
            &[("csrf", &csrf), ("grace_seconds", "3600")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let new = shown_key(&page);
    assert!(
        page.body
            .contains("Key key_old keeps working until 2027-01-15T09:00:00Z"),
        "{}",
        page.body
    );
    assert_eq!(admin.add_with(&new).await.0, StatusCode::OK);
    assert_eq!(admin.add_with(&old).await.0, StatusCode::OK);
    // The file's key is the file's to rotate: the API's refusal, as a page.
    let page = browser
        .post(
            &format!("/admin/keys/{FILE_KEY}/rotate"),
            &[("csrf", &csrf), ("grace_seconds", "0")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("owned_by_config"), "{}", page.body);
    // An emptied grace is refused, not taken as none (the old key would end at once).
    let page = browser
        .post(
            "/admin/keys/key_next/rotate",
            &[("csrf", &csrf), ("grace_seconds", "")],
        )
        .await;
    assert!(
        page.status.is_client_error(),
        "{}: {}",
        page.status,
        page.body
    );
}

#[tokio::test]
async fn tiles_show_use_against_the_plan_with_marks_and_plans_change_where_the_api_owns_them() {
    let admin = Admin::start(Backend::Memory).await;
    let plan = json!({"id": "proj_api", "adds_per_month": 8, "queries_per_month": 10,
        "alert_thresholds": [50, 75, 100]});
    assert_eq!(
        admin.call("POST", "/admin/v1/projects", Some(plan)).await.0,
        StatusCode::CREATED
    );
    let (_, made) = admin
        .call(
            "POST",
            "/admin/v1/keys",
            Some(json!({"project": "proj_api", "environment": "development"})),
        )
        .await;
    let key = made["key"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert!(admin.served(&key, "proj_api").await);
    }
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let projects = browser.get("/admin/projects").await;
    assert!(
        projects.body.contains("Managed by the config file"),
        "{}",
        projects.body
    );
    assert_eq!(
        projects.body.matches("action=\"/admin/projects/").count(),
        1
    );
    let page = browser
        .post(
            "/admin/projects/proj_api/plan",
            &[
                ("csrf", &projects.csrf()),
                ("adds_per_month", "4"),
                ("queries_per_month", "10"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let overview = browser.get("/admin/").await;
    let tile = &overview.body[overview.body.find("id=\"tile-proj_api\"").unwrap()..];
    let tile = &tile[..tile.find("</h3>").unwrap() + 600];
    assert!(tile.contains("adds: 3 / 4 (75%)"), "{tile}");
    assert!(tile.contains("style=\"width: 75%\""), "{tile}");
    assert!(
        tile.contains("class=\"mark reached\" style=\"left: 75%\""),
        "{tile}"
    );
    assert!(
        tile.contains("class=\"mark\" style=\"left: 100%\""),
        "{tile}"
    );
    // The console's plan change kept the plan's thresholds.
    assert!(
        tile.contains("class=\"mark reached\" style=\"left: 50%\""),
        "{tile}"
    );
    assert!(!tile.contains("left: 90%"), "{tile}");
    let health = &overview.body[overview.body.find("id=\"health\"").unwrap()..];
    let health = &health[..health.find("</table>").unwrap()];
    assert!(health.contains("<td>audit</td><td>ok</td>"), "{health}");
    assert!(
        overview.body.contains("webhooks are off")
            || overview.body.contains("id=\"dead-letters\">0<")
    );
    // The file's plan is refused through the console as through the API.
    let page = browser
        .post(
            &format!("/admin/projects/{PROJECT}/plan"),
            &[
                ("csrf", &projects.csrf()),
                ("adds_per_month", "9"),
                ("queries_per_month", "9"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    // An emptied field is refused, never taken as a limit of 0.
    let page = browser
        .post(
            "/admin/projects/proj_api/plan",
            &[
                ("csrf", &projects.csrf()),
                ("adds_per_month", ""),
                ("queries_per_month", "10"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert_eq!(
        admin
            .deployment
            .plans()
            .get("proj_api")
            .map(|p| p.adds_per_month),
        Some(4)
    );
}

#[tokio::test]
async fn a_window_out_of_its_bounds_is_refused_with_its_field_and_no_key_is_made() {
    let admin = Admin::start(Backend::Memory).await;
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let csrf = browser.get("/admin/keys").await.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("project", PROJECT),
        ("environment", "development"),
        ("id", "key_windowed"),
        ("rpm", "60"),
        ("rpm_window", "30s"),
    ];
    let page = browser.post("/admin/keys", &fields).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.body.contains("rpm_window must be whole seconds"),
        "{}",
        page.body
    );
    let keys = browser.get("/admin/keys").await;
    assert!(!keys.body.contains("key_windowed"), "{}", keys.body);
}

#[tokio::test]
async fn what_a_form_sends_back_is_escaped() {
    let admin = Admin::start(Backend::Memory).await;
    let browser = Browser::logged_in(admin.router.clone(), admin.admin.expose_secret()).await;
    let csrf = browser.get("/admin/keys").await.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("project", PROJECT),
        ("environment", "<script>alert(1)</script>"),
    ];
    let page = browser.post("/admin/keys", &fields).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert"));
    let page = browser.get("/admin/keys/%3Cscript%3E/revoke").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("<script>"), "{}", page.body);
}
