//! `/admin/v1/keys` on every backend: the checklist's key tasks, each through the API and then
//! through the pipeline that must honour it.

use std::time::Duration;

use http::StatusCode;
use memorysync_pipeline::clock::Clock;
use serde_json::{Value, json};

use crate::harness::{Admin, Backend, FILE_KEY, PROJECT};

async fn create(admin: &Admin, body: Value) -> (String, Value) {
    let (status, created) = admin.call("POST", "/admin/v1/keys", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["key"].as_str().unwrap().to_owned(),
        created["record"].clone(),
    )
}

#[tokio::test]
async fn a_created_key_works_at_once_and_is_never_shown_again() {
    let admin = Admin::start(Backend::Memory).await;
    let (key, record) = create(
        &admin,
        json!({"project": PROJECT, "environment": "development", "id": "key_new", "rps": 5}),
    )
    .await;
    assert!(key.starts_with("msk_test_"), "{key}");
    assert_eq!(record["id"], "key_new");
    assert_eq!(record["owner"], "api");
    assert_eq!(record["status"], "active");
    assert_eq!(record["rps"], 5);
    assert_eq!(record["rpm"], Value::Null);
    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);

    // Usage after the first request, as the checklist asks.
    let (_, shown) = admin.call("GET", "/admin/v1/keys/key_new", None).await;
    assert_eq!(shown["usage"]["requests"], 1, "{shown}");
    assert!(shown["usage"]["last_used"].is_string());
    let (_, listed) = admin.call("GET", "/admin/v1/keys", None).await;
    for answer in [&shown, &listed] {
        assert!(
            !answer.to_string().contains(&key[9..]),
            "the key leaked: {answer}"
        );
    }
    let lines = admin.audit_lines().await;
    assert!(!serde_json::to_string(&lines).unwrap().contains(&key[9..]));
    let made = lines
        .iter()
        .find(|l| l["method"] == "POST" && l["path"] == "/admin/v1/keys")
        .unwrap();
    assert_eq!(made["key_id"], "key_new");
    assert_eq!(made["project"], PROJECT);
    assert_eq!(made["status"], 201);
    assert_eq!(made["detail"], "admin token=tok_ops result=ok");
}

#[tokio::test]
async fn bad_key_requests_are_refused_for_what_they_are() {
    let admin = Admin::start(Backend::Memory).await;
    let cases = [
        (
            json!({"project": "proj_none", "environment": "development"}),
            422,
            "unknown_project",
        ),
        (
            json!({"project": PROJECT, "environment": "staging"}),
            422,
            "invalid_request",
        ),
        (
            json!({"project": PROJECT, "environment": "development", "id": "bad id"}),
            422,
            "invalid_request",
        ),
        (
            json!({"project": PROJECT, "environment": "development", "rps": 0}),
            422,
            "invalid_request",
        ),
        (
            json!({"project": PROJECT, "environment": "development", "rps": -1}),
            422,
            "invalid_request",
        ),
        (
            json!({"project": PROJECT, "environment": "development", "expires_at": "2020-01-01T00:00:00Z"}),
            422,
            "invalid_request",
        ),
        (
            json!({"project": PROJECT, "environment": "development", "expires_at": "tomorrow"}),
            422,
            "invalid_request",
        ),
        (
            json!({"project": PROJECT, "environment": "development", "sha256": "00"}),
            422,
            "invalid_request",
        ),
        (
            json!({"project": PROJECT, "environment": "development", "id": FILE_KEY}),
            409,
            "duplicate_id",
        ),
        (json!([1, 2]), 422, "invalid_request"),
        (
            json!({"project": PROJECT, "environment": "development", "rps_window": 4}),
            422,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = admin
            .call("POST", "/admin/v1/keys", Some(body.clone()))
            .await;
        assert_eq!(
            (got.as_u16(), answer["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let token = admin.admin.expose_secret().to_owned();
    let request = http::Request::post("/admin/v1/keys")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"project\":"))
        .unwrap();
    let (status, _, body) = admin.send(request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let request = http::Request::post("/admin/v1/keys")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from("project=x"))
        .unwrap();
    let (status, _, body) = admin.send(request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    for path in [
        "/admin/v1/keys?limit=0",
        "/admin/v1/keys?cursor=%25%25",
        "/admin/v1/keys?environment=x",
        "/admin/v1/keys?color=red",
    ] {
        let (status, body) = admin.call("GET", path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    }
    let (status, body) = admin.call("GET", "/admin/v1/keys/key_nope", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_key"))
    );
}

#[tokio::test]
async fn a_bad_window_is_refused_naming_its_field_and_makes_no_key() {
    let admin = Admin::start(Backend::Memory).await;
    for (field, text) in [
        ("rps_window", "0s"),
        ("rps_window", "2h"),
        ("rps_window", "1500ms"),
        ("rps_window", "soon"),
        ("rpm_window", "30s"),
        ("rpm_window", "25h"),
        ("rpm_window", ""),
    ] {
        let body =
            json!({"project": PROJECT, "environment": "development", "id": "key_w", field: text});
        let (status, answer) = admin.call("POST", "/admin/v1/keys", Some(body)).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_request")),
            "{field} = {text:?}: {answer}"
        );
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.starts_with(field), "{field} = {text:?}: {detail}");
    }
    let (status, _) = admin.call("GET", "/admin/v1/keys/key_w", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_window_is_set_at_creation_enforced_changed_and_cleared_back_to_the_default() {
    let admin = Admin::start(Backend::Memory).await;
    let (key, record) = create(
        &admin,
        json!({"project": PROJECT, "environment": "development", "id": "key_w",
               "rps": 1, "rps_window": "4s"}),
    )
    .await;
    assert_eq!(
        (record["rps_window"].as_str(), record["rpm_window"].clone()),
        (Some("4s"), Value::Null)
    );
    // One a second over 4 s: a burst of 4, then refused.
    for _ in 0..4 {
        assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);
    }
    assert_eq!(
        admin.add_with(&key).await.1.as_deref(),
        Some("rate_limited")
    );

    let patch = |body: Value| admin.call("PATCH", "/admin/v1/keys/key_w", Some(body));
    let (status, answer) = patch(json!({"rpm_window": "59s"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["detail"].as_str().unwrap().starts_with("rpm_window"));
    let (status, record) = patch(json!({"rpm": 10, "rpm_window": "2m"})).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(
        (record["rps_window"].as_str(), record["rpm_window"].as_str()),
        (Some("4s"), Some("2m")),
        "a window left out stays"
    );
    let (_, shown) = admin.call("GET", "/admin/v1/keys/key_w", None).await;
    assert_eq!(shown["rpm_window"], "2m");

    // `null`: back to the deployment's 1 s.
    let (_, record) = patch(json!({"rps_window": null})).await;
    assert_eq!(record["rps_window"], Value::Null);
    assert_eq!(record["rpm_window"], "2m");
    admin.clock.advance(Duration::from_secs(5));
    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);
    assert_eq!(
        admin.add_with(&key).await.1.as_deref(),
        Some("rate_limited")
    );
}

#[tokio::test]
async fn the_list_filters_and_pages_through_every_key_once() {
    let admin = Admin::start(Backend::Memory).await;
    for n in 0..5 {
        create(
            &admin,
            json!({"project": PROJECT, "environment": "development", "id": format!("key_{n}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut path = "/admin/v1/keys?limit=2".to_owned();
    loop {
        let (status, page) = admin.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/v1/keys?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["key_0", "key_1", "key_2", "key_3", "key_4", FILE_KEY]
    );
    let (_, page) = admin
        .call("GET", "/admin/v1/keys?project=proj_other", None)
        .await;
    assert_eq!(page["items"], json!([]));
    let (_, page) = admin
        .call("GET", "/admin/v1/keys?environment=production", None)
        .await;
    assert_eq!(page["items"], json!([]));
    let (_, page) = admin
        .call(
            "GET",
            &format!("/admin/v1/keys?project={PROJECT}&environment=development&limit=500"),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 6);
    assert_eq!(page["items"][5]["owner"], "config");
}

#[tokio::test]
async fn an_update_applies_to_the_next_request_and_a_file_key_is_the_files() {
    let admin = Admin::start(Backend::Memory).await;
    let (key, _) = create(
        &admin,
        json!({"project": PROJECT, "environment": "development", "id": "key_new"}),
    )
    .await;
    let (status, record) = admin
        .call(
            "PATCH",
            "/admin/v1/keys/key_new",
            Some(json!({"rps": 1, "expires_at": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(
        (record["rps"].as_u64(), record["expires_at"].as_str()),
        (Some(1), Some("2030-01-01T00:00:00Z"))
    );
    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);
    assert_eq!(
        admin.add_with(&key).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some("rate_limited".to_owned())
        )
    );
    // `null` takes the limit away; a field left out stays.
    let (_, record) = admin
        .call(
            "PATCH",
            "/admin/v1/keys/key_new",
            Some(json!({"rps": null})),
        )
        .await;
    assert_eq!(
        (record["rps"].clone(), record["expires_at"].as_str()),
        (Value::Null, Some("2030-01-01T00:00:00Z"))
    );
    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);

    let (status, body) = admin
        .call(
            "PATCH",
            &format!("/admin/v1/keys/{FILE_KEY}"),
            Some(json!({"rps": 1})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("owned_by_config"))
    );
    assert!(
        body["detail"].as_str().unwrap().contains("edit the file"),
        "{body}"
    );
    let (status, body) = admin
        .call("PATCH", "/admin/v1/keys/key_new", Some(json!({"rpm": 0})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// The checklist's rotation: a new key, the old one working through the grace, then refused.
async fn rotation_with_a_grace(admin: &Admin) {
    let (old, _) = create(
        admin,
        json!({"project": PROJECT, "environment": "development", "id": "key_old", "rpm": 600,
               "rpm_window": "10m"}),
    )
    .await;
    let (status, rotated) = admin
        .call(
            "POST",
            "/admin/v1/keys/key_old/rotate",
            Some(json!({"grace_seconds": 3600, "id": "key_next"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated["record"]["id"], "key_next");
    assert_eq!(rotated["record"]["rpm"], 600);
    assert_eq!(rotated["record"]["rpm_window"], "10m");
    assert_eq!(rotated["previous"]["id"], "key_old");
    assert_eq!(rotated["previous"]["expires_at"], "2027-01-15T09:00:00Z");
    assert_eq!(admin.add_with(&new).await.0, StatusCode::OK);
    assert_eq!(admin.add_with(&old).await.0, StatusCode::OK);
    admin.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        admin.add_with(&old).await,
        (StatusCode::UNAUTHORIZED, Some("expired_api_key".to_owned()))
    );
    assert_eq!(admin.add_with(&new).await.0, StatusCode::OK);
    let (_, shown) = admin.call("GET", "/admin/v1/keys/key_old", None).await;
    assert_eq!(shown["status"], "expired");
}

#[tokio::test]
async fn a_rotation_keeps_the_old_key_through_its_grace_only() {
    let admin = Admin::start(Backend::Memory).await;
    rotation_with_a_grace(&admin).await;
    let (status, body) = admin
        .call(
            "POST",
            &format!("/admin/v1/keys/{FILE_KEY}/rotate"),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("owned_by_config"))
    );
    let (status, _) = admin
        .call(
            "POST",
            "/admin/v1/keys/key_next/rotate",
            Some(json!({"grace_seconds": 2_592_001})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The checklist's first five minutes: the development key the file made is revoked for good.
async fn revoking_the_file_key(admin: &Admin) {
    let key = admin.file_key.expose_secret().to_owned();
    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);
    let (status, record) = admin
        .call("POST", &format!("/admin/v1/keys/{FILE_KEY}/revoke"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["status"], "revoked");
    assert_eq!(
        record["revoked_at"].as_str(),
        Some(&*admin.clock.now().to_rfc3339())
    );
    assert_eq!(
        admin.add_with(&key).await,
        (StatusCode::UNAUTHORIZED, Some("revoked_api_key".to_owned()))
    );
    // Again: the same record, nothing new.
    let (status, again) = admin
        .call("POST", &format!("/admin/v1/keys/{FILE_KEY}/revoke"), None)
        .await;
    assert_eq!(
        (status, &again["revoked_at"]),
        (StatusCode::OK, &record["revoked_at"])
    );
    let (status, body) = admin
        .call(
            "PATCH",
            &format!("/admin/v1/keys/{FILE_KEY}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn revoking_works_on_a_file_key_and_is_for_good() {
    let admin = Admin::start(Backend::Memory).await;
    revoking_the_file_key(&admin).await;
}

#[tokio::test]
async fn on_the_embedded_store_what_the_api_did_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let admin = Admin::start(Backend::Embedded(dir.path())).await;
    rotation_with_a_grace(&admin).await;
    revoking_the_file_key(&admin).await;
    let (file_key, token) = (admin.file_key.clone(), admin.admin.clone());
    admin
        .deployment
        .shutdown(Duration::from_secs(5))
        .await
        .unwrap();
    drop(admin);

    let restarted = Admin::start_with(
        Backend::Embedded(dir.path()),
        file_key.clone(),
        token,
        "node-a",
    )
    .await;
    restarted.clock.advance(Duration::from_secs(3600));
    let (_, next) = restarted.call("GET", "/admin/v1/keys/key_next", None).await;
    assert_eq!(
        (next["owner"].as_str(), next["status"].as_str()),
        (Some("api"), Some("active")),
        "{next}"
    );
    let (_, file) = restarted
        .call("GET", &format!("/admin/v1/keys/{FILE_KEY}"), None)
        .await;
    assert_eq!(file["status"], "revoked");
    assert_eq!(
        restarted.add_with(file_key.expose_secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_what_instance_a_does_is_in_force_on_instance_b() {
    let Some((_redis, a, b)) = Admin::pair_on_redis().await else {
        return;
    };

    let (key, _) = create(
        &a,
        json!({"project": PROJECT, "environment": "development", "id": "key_shared"}),
    )
    .await;
    assert_eq!(b.add_with(&key).await.0, StatusCode::OK);
    let (_, on_b) = b.call("GET", "/admin/v1/keys/key_shared", None).await;
    assert_eq!(on_b["owner"], "api");

    let (status, _) = a
        .call("POST", "/admin/v1/keys/key_shared/revoke", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // B serves key records from its cache: a change elsewhere is in force within 1 s.
    crate::common::hooks::eventually("B refuses the key A revoked", async || {
        b.add_with(&key).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(
        b.add_with(&key).await,
        (StatusCode::UNAUTHORIZED, Some("revoked_api_key".to_owned()))
    );

    let file_key = a.file_key.expose_secret().to_owned();
    let (status, _) = b
        .call("POST", &format!("/admin/v1/keys/{FILE_KEY}/revoke"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    crate::common::hooks::eventually("A refuses the key B revoked", async || {
        a.add_with(&file_key).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
}
