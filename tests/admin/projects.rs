//! `/admin/v1/projects`: the quota tile, API-owned projects and plans in force at once, on
//! every backend; the file's projects stay the file's.

use http::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Admin, Backend, PROJECT};

/// A project the API makes, with a key of its own.
async fn project_with_key(admin: &Admin, id: &str, adds: u64) -> String {
    let (status, created) = admin
        .call(
            "POST",
            "/admin/v1/projects",
            Some(json!({"id": id, "adds_per_month": adds, "queries_per_month": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["owner"], "api");
    assert_eq!(created["plan"]["alert_thresholds"], json!([75, 90, 100]));
    let (status, key) = admin
        .call(
            "POST",
            "/admin/v1/keys",
            Some(json!({"project": id, "environment": "development"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    key["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_tile_counts_this_months_use_and_the_alerts_it_reached() {
    let admin = Admin::start(Backend::Memory).await;
    let key = admin.file_key.expose_secret().to_owned();
    for _ in 0..3 {
        assert!(admin.served(&key, PROJECT).await);
    }
    assert!(
        !admin.served(&key, PROJECT).await,
        "the fourth add is degraded"
    );
    let (status, project) = admin
        .call("GET", &format!("/admin/v1/projects/{PROJECT}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    assert_eq!(project["owner"], "config");
    assert_eq!(project["month"], "2027-01");
    assert_eq!(
        project["tile"]["adds"],
        json!({"used": 3, "limit": 3, "alerts_fired": [75, 90, 100]})
    );
    assert_eq!(
        project["tile"]["queries"],
        json!({"used": 0, "limit": 100, "alerts_fired": []})
    );
    // Another month has its own tile.
    let (_, before) = admin
        .call(
            "GET",
            &format!("/admin/v1/projects/{PROJECT}?month=2026-12"),
            None,
        )
        .await;
    assert_eq!(before["tile"]["adds"]["used"], 0);
    let (_, listed) = admin.call("GET", "/admin/v1/projects", None).await;
    assert_eq!(listed["items"][0]["id"], PROJECT);
    assert_eq!(listed["next_cursor"], Value::Null);
    for (path, code) in [
        ("/admin/v1/projects/proj_none", "unknown_project"),
        ("/admin/v1/projects?month=2027-13", "bad_request"),
        ("/admin/v1/projects?month=27-01", "bad_request"),
    ] {
        let (status, body) = admin.call("GET", path, None).await;
        assert_eq!(body["code"], code, "{path}: {status} {body}");
    }
}

/// A project made and re-planned through the API, metered at each plan from the next request.
async fn plans_in_force_at_once(admin: &Admin) {
    let key = project_with_key(admin, "proj_api", 1).await;
    assert!(admin.served(&key, "proj_api").await);
    assert!(!admin.served(&key, "proj_api").await);
    let (status, changed) = admin
        .call(
            "PUT",
            "/admin/v1/projects/proj_api/plan",
            Some(json!({"adds_per_month": 2, "queries_per_month": 10, "alert_thresholds": [50]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["plan"]["alert_thresholds"], json!([50]));
    assert_eq!(
        changed["tile"]["adds"],
        json!({"used": 1, "limit": 2, "alerts_fired": [50]})
    );
    assert!(admin.served(&key, "proj_api").await);
    assert!(!admin.served(&key, "proj_api").await);
}

#[tokio::test]
async fn an_api_project_and_its_plan_apply_at_once_and_the_files_stay_the_files() {
    let admin = Admin::start(Backend::Memory).await;
    plans_in_force_at_once(&admin).await;
    let plan = json!({"adds_per_month": 5, "queries_per_month": 5});
    let cases = [
        (
            "PUT",
            format!("/admin/v1/projects/{PROJECT}/plan"),
            plan.clone(),
            409,
            "owned_by_config",
        ),
        (
            "PUT",
            "/admin/v1/projects/proj_none/plan".to_owned(),
            plan.clone(),
            404,
            "unknown_project",
        ),
        (
            "POST",
            "/admin/v1/projects".to_owned(),
            json!({"id": PROJECT, "adds_per_month": 1, "queries_per_month": 1}),
            409,
            "project_exists",
        ),
        (
            "POST",
            "/admin/v1/projects".to_owned(),
            json!({"id": "proj_api", "adds_per_month": 1, "queries_per_month": 1}),
            409,
            "project_exists",
        ),
        (
            "POST",
            "/admin/v1/projects".to_owned(),
            json!({"id": "bad id", "adds_per_month": 1, "queries_per_month": 1}),
            422,
            "invalid_request",
        ),
        (
            "POST",
            "/admin/v1/projects".to_owned(),
            json!({"id": "p", "adds_per_month": -1, "queries_per_month": 1}),
            422,
            "invalid_request",
        ),
        (
            "POST",
            "/admin/v1/projects".to_owned(),
            json!({"id": "p", "adds_per_month": 1, "queries_per_month": 1, "alert_thresholds": [0]}),
            422,
            "invalid_request",
        ),
        (
            "PUT",
            "/admin/v1/projects/proj_api/plan".to_owned(),
            json!({"adds_per_month": 1, "queries_per_month": 1, "alert_thresholds": [101]}),
            422,
            "invalid_request",
        ),
        (
            "PUT",
            "/admin/v1/projects/proj_api/plan".to_owned(),
            json!({"adds_per_month": 1}),
            422,
            "invalid_request",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = admin.call(method, &path, Some(body.clone())).await;
        assert_eq!(
            (got.as_u16(), answer["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body}: {answer}"
        );
    }
    let lines = admin.audit_lines().await;
    let planned = lines
        .iter()
        .find(|l| l["method"] == "PUT" && l["status"] == 200)
        .unwrap();
    assert_eq!(planned["project"], "proj_api");
}

#[tokio::test]
async fn on_the_embedded_store_an_api_plan_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let admin = Admin::start(Backend::Embedded(dir.path())).await;
    plans_in_force_at_once(&admin).await;
    let (file_key, token) = (admin.file_key.clone(), admin.admin.clone());
    admin
        .deployment
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    drop(admin);
    let restarted =
        Admin::start_with(Backend::Embedded(dir.path()), file_key, token, "node-a").await;
    let (_, project) = restarted
        .call("GET", "/admin/v1/projects/proj_api", None)
        .await;
    assert_eq!(project["owner"], "api");
    assert_eq!(
        project["tile"]["adds"],
        json!({"used": 2, "limit": 2, "alerts_fired": [50]})
    );
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_plan_changed_on_instance_a_meters_instance_b_within_a_second() {
    let Some((_redis, a, b)) = Admin::pair_on_redis().await else {
        return;
    };
    let key = project_with_key(&a, "proj_shared", 1).await;
    // In force on B within a second: the first add there is served, the second degraded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let (status, project) = b.call("GET", "/admin/v1/projects/proj_shared", None).await;
        if status == StatusCode::OK {
            assert_eq!(project["owner"], "api");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not on B within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(b.served(&key, "proj_shared").await);
    assert!(!b.served(&key, "proj_shared").await);
    let (status, _) = a
        .call(
            "PUT",
            "/admin/v1/projects/proj_shared/plan",
            Some(json!({"adds_per_month": 2, "queries_per_month": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while b
        .deployment
        .plans()
        .get("proj_shared")
        .map(|p| p.adds_per_month)
        != Some(2)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the new plan is not on B within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(b.served(&key, "proj_shared").await);
    assert!(!b.served(&key, "proj_shared").await);
}
