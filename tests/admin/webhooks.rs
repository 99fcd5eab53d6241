//! `/admin/v1/webhooks`: an endpoint registered through the API receives signed deliveries
//! with the secret shown once; every attempt is logged; a 410 disables it and dead-letters the
//! delivery, which is replayed once it is enabled again; a rotated secret signs beside the old
//! one; on Redis, what instance A registers, instance B delivers to.

use http::StatusCode;
use memorysync_pipeline::clock::Clock;
use memorysync_pipeline::webhook::WebhookSecret;
use serde_json::{Value, json};

use crate::common::hooks::{Hook, eventually};
use crate::harness::{Admin, Backend, PROJECT};

const EVENTS: [&str; 2] = ["quota.threshold", "quota.exhausted"];

/// Registers `hook` for every project's quota events: the endpoint and its secret.
async fn register(admin: &Admin, hook: &Hook) -> (Value, WebhookSecret) {
    let (status, created) = admin
        .call(
            "POST",
            "/admin/v1/webhooks/endpoints",
            Some(json!({"url": hook.url("/hook"), "events": EVENTS})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap();
    (created["endpoint"].clone(), secret)
}

/// Uses up a fresh month of a one-add plan on `project`: one add crosses 75, 90 and 100%.
async fn cross_thresholds(admin: &Admin, project: &str) {
    let (status, _) = admin
        .call(
            "POST",
            "/admin/v1/projects",
            Some(json!({"id": project, "adds_per_month": 1, "queries_per_month": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, key) = admin
        .call(
            "POST",
            "/admin/v1/keys",
            Some(json!({"project": project, "environment": "development"})),
        )
        .await;
    assert!(admin.served(key["key"].as_str().unwrap(), project).await);
}

async fn get(admin: &Admin, path: &str) -> Value {
    let (status, body) = admin.call("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_made_through_the_api_is_delivered_logged_disabled_by_410_and_replayed() {
    let admin = Admin::start(Backend::Memory).await;
    let mut hook = Hook::start().await;
    let (endpoint, secret) = register(&admin, &hook).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (endpoint["owner"].as_str(), endpoint["state"].as_str()),
        (Some("api"), Some("enabled"))
    );
    let shown = get(&admin, &format!("/admin/v1/webhooks/endpoints/{id}")).await;
    assert!(
        !shown.to_string().contains(&secret.expose()),
        "the secret is shown once"
    );

    // The project's three thresholds, delivered and signed with the secret given.
    let key = admin.file_key.expose_secret().to_owned();
    for _ in 0..3 {
        assert!(admin.served(&key, PROJECT).await);
    }
    // Three alerts: 75 and 90% crossed, then the quota used up; all of them in before the
    // receiver changes its answer.
    for _ in 0..3 {
        let arrival = hook.next().await;
        assert!(arrival.verifies(&secret, admin.clock.now()), "{arrival:?}");
    }
    eventually("the attempt is logged", async || {
        let page = get(
            &admin,
            &format!("/admin/v1/webhooks/attempts?endpoint={id}&status=delivered"),
        )
        .await;
        !page["items"].as_array().unwrap().is_empty()
    })
    .await;
    let page = get(&admin, "/admin/v1/webhooks/attempts?status=200&limit=1").await;
    assert_eq!(page["items"][0]["endpoint"], id.as_str());
    assert_eq!(page["items"][0]["status"], 200);

    // The receiver is gone: 410 disables the endpoint, the delivery is a dead letter.
    hook.answer(410);
    cross_thresholds(&admin, "proj_more").await;
    eventually("the 410 disables the endpoint", async || {
        get(&admin, &format!("/admin/v1/webhooks/endpoints/{id}")).await["state"] == "disabled_gone"
    })
    .await;
    // All three alerts settle as dead letters (410, or the endpoint already disabled) before
    // the endpoint is enabled: an attempt still in flight would disable it again with its 410.
    eventually("the three alerts are dead letters", async || {
        get(&admin, "/admin/v1/webhooks/dead-letters").await["count"] == 3
    })
    .await;
    let letters = get(&admin, "/admin/v1/webhooks/dead-letters").await;
    let letter = letters["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(letters["items"][0]["endpoint"], id.as_str());

    hook.answer(200);
    while hook.waiting() > 0 {}
    let (status, enabled) = admin
        .call(
            "POST",
            &format!("/admin/v1/webhooks/endpoints/{id}/enable"),
            None,
        )
        .await;
    assert_eq!(
        (status, enabled["state"].as_str()),
        (StatusCode::OK, Some("enabled"))
    );
    let (status, replayed) = admin
        .call(
            "POST",
            &format!("/admin/v1/webhooks/dead-letters/{letter}/replay"),
            None,
        )
        .await;
    assert_eq!(
        (status, replayed["replayed"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{replayed}"
    );
    assert!(hook.next().await.verifies(&secret, admin.clock.now()));
    let (status, body) = admin
        .call(
            "POST",
            &format!("/admin/v1/webhooks/dead-letters/{letter}/replay"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_dead_letter"))
    );
    let (status, replayed) = admin
        .call(
            "POST",
            "/admin/v1/webhooks/dead-letters/replay?since=2020-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends() {
    let admin = Admin::start(Backend::Memory).await;
    let mut hook = Hook::start().await;
    let (endpoint, old) = register(&admin, &hook).await;
    let id = endpoint["id"].as_str().unwrap();
    let (status, rotated) = admin
        .call(
            "POST",
            &format!("/admin/v1/webhooks/endpoints/{id}/rotate-secret"),
            Some(json!({"overlap_seconds": 600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = WebhookSecret::parse(rotated["secret"].as_str().unwrap()).unwrap();
    assert_eq!(
        rotated["endpoint"]["secret_rotation_ends_at"],
        "2027-01-15T08:10:00Z"
    );
    cross_thresholds(&admin, "proj_rotated").await;
    let arrival = hook.next().await;
    assert_eq!(arrival.signatures(), 2);
    assert!(arrival.verifies(&old, admin.clock.now()) && arrival.verifies(&new, admin.clock.now()));

    // Off, then gone.
    let (status, off) = admin
        .call(
            "PATCH",
            &format!("/admin/v1/webhooks/endpoints/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        (status, off["state"].as_str()),
        (StatusCode::OK, Some("disabled_by_operator"))
    );
    let (status, _) = admin
        .call(
            "DELETE",
            &format!("/admin/v1/webhooks/endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = admin
        .call("GET", &format!("/admin/v1/webhooks/endpoints/{id}"), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_endpoint"))
    );
}

#[tokio::test]
async fn bad_endpoint_requests_are_refused_for_what_they_are() {
    let admin = Admin::start(Backend::Memory).await;
    let hook = Hook::start().await;
    let url = hook.url("/hook");
    let cases = [
        (
            json!({"url": "ftp://example.com/x", "events": EVENTS}),
            "invalid_request",
        ),
        (json!({"url": url, "events": []}), "invalid_request"),
        (
            json!({"url": url, "events": ["memory.added"]}),
            "invalid_request",
        ),
        (
            json!({"url": url, "events": EVENTS, "project": "bad id"}),
            "invalid_request",
        ),
        (
            json!({"url": url, "events": EVENTS, "secret": "whsec_x"}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = admin
            .call("POST", "/admin/v1/webhooks/endpoints", Some(body.clone()))
            .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body}: {answer}"
        );
    }
    let (_, created) = admin
        .call(
            "POST",
            "/admin/v1/webhooks/endpoints",
            Some(json!({"url": url, "events": EVENTS})),
        )
        .await;
    let id = created["endpoint"]["id"].as_str().unwrap();
    assert_eq!(created["endpoint"]["project"], Value::Null, "operator-wide");
    let (status, _) = admin
        .call(
            "POST",
            &format!("/admin/v1/webhooks/endpoints/{id}/rotate-secret"),
            Some(json!({"overlap_seconds": 2_592_001})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for (path, status) in [
        ("/admin/v1/webhooks/attempts?status=abc", 400),
        ("/admin/v1/webhooks/attempts?cursor=zzz", 400),
        ("/admin/v1/webhooks/dead-letters?cursor=zzz", 400),
        ("/admin/v1/webhooks/endpoints/ep_none", 404),
    ] {
        let (got, body) = admin.call("GET", path, None).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
    }
    let (status, _) = admin
        .call(
            "POST",
            "/admin/v1/webhooks/dead-letters/replay?since=soon",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = admin
        .call("POST", "/admin/v1/webhooks/dead-letters/replay", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_an_endpoint_registered_on_a_is_delivered_to_from_b() {
    let Some((_redis, a, b)) = Admin::pair_on_redis().await else {
        return;
    };
    let mut hook = Hook::start().await;
    let (endpoint, secret) = register(&a, &hook).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    eventually("B delivers to the endpoint", async || {
        let endpoints = b.deployment.webhooks().unwrap().endpoints().snapshot();
        endpoints.iter().any(|e| e.id() == id)
    })
    .await;
    let key = b.file_key.expose_secret().to_owned();
    for _ in 0..3 {
        assert!(b.served(&key, PROJECT).await);
    }
    assert!(hook.next().await.verifies(&secret, b.clock.now()));
    let (status, _) = b
        .call(
            "PATCH",
            &format!("/admin/v1/webhooks/endpoints/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("A sees it disabled", async || {
        get(&a, &format!("/admin/v1/webhooks/endpoints/{id}")).await["state"]
            == "disabled_by_operator"
    })
    .await;
}

#[tokio::test]
async fn a_url_with_a_user_or_password_is_refused() {
    let admin = Admin::start(Backend::Memory).await;
    let hook = Hook::start().await;
    let url = hook.url("/hook").replace("http://", "http://ops:hunter2@");
    let (status, answer) = admin
        .call(
            "POST",
            "/admin/v1/webhooks/endpoints",
            Some(json!({"url": url, "events": EVENTS})),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_request"))
    );
    assert!(!answer.to_string().contains("hunter2"), "{answer}");
}
