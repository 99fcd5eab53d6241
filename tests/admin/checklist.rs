//! The production checklist's operator tasks through the admin API, each on the embedded store
//! (one instance) and on Redis with two instances (each task done on A, checked on B):
//!
//! First five minutes: production keys made and the development key revoked; per-key usage
//! after the first production request; the quota tile and its 75/90/100% alerts; a webhook
//! endpoint registered and the dead-letter count watched. API key rotation: a new key, both
//! working through the grace, the old one refused after it and revoked.

use std::time::Duration;

use http::StatusCode;
use memorysync_pipeline::clock::Clock;
use memorysync_pipeline::webhook::WebhookSecret;
use serde_json::{Value, json};

use crate::common::hooks::{Hook, eventually};
use crate::harness::{Admin, Backend, FILE_KEY, PROJECT};

async fn ok(admin: &Admin, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = admin.call(method, path, body).await;
    assert!(status.is_success(), "{method} {path}: {status} {answer}");
    answer
}

/// The checklist, with every change made on `a` and checked on `b` (the same instance on the
/// embedded store). `b` serves the requests, so usage and alerts come from it.
async fn checklist(a: &Admin, b: &Admin) {
    // A receiver for every project's quota alerts, registered before the first request.
    let mut hook = Hook::start().await;
    let created = ok(
        a,
        "POST",
        "/admin/v1/webhooks/endpoints",
        Some(json!({"url": hook.url("/alerts"), "events": ["quota.threshold", "quota.exhausted"]})),
    )
    .await;
    let secret = WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap();
    let endpoint = created["endpoint"]["id"].as_str().unwrap().to_owned();
    eventually("B delivers to the new endpoint", async || {
        let set = b.deployment.webhooks().unwrap().endpoints().snapshot();
        set.iter().any(|e| e.id() == endpoint)
    })
    .await;

    // Production keys made; the development key revoked.
    let made = ok(
        a,
        "POST",
        "/admin/v1/keys",
        Some(json!({"project": PROJECT, "environment": "production", "id": "key_prod", "rps": 50, "rpm": 1000})),
    )
    .await;
    let prod = made["key"].as_str().unwrap().to_owned();
    assert!(prod.starts_with("msk_live_"));
    ok(
        a,
        "POST",
        &format!("/admin/v1/keys/{FILE_KEY}/revoke"),
        None,
    )
    .await;
    let dev = b.file_key.expose_secret().to_owned();
    // Instances cache key records: a change on one is in force on the other within 1 s.
    eventually("B refuses the key A revoked", async || {
        b.add_with(&dev).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(
        b.add_with(&dev).await,
        (StatusCode::UNAUTHORIZED, Some("revoked_api_key".to_owned()))
    );

    // The first production request, and its usage.
    assert!(b.served(&prod, PROJECT).await);
    eventually("A reads the usage B counted", async || {
        let shown = ok(a, "GET", "/admin/v1/keys/key_prod", None).await;
        shown["usage"]["requests"] == 1 && shown["usage"]["last_used"].is_string()
    })
    .await;

    // The quota tile and its alerts: the plan's three adds used, 75, 90 and 100% fired.
    assert!(b.served(&prod, PROJECT).await);
    assert!(b.served(&prod, PROJECT).await);
    assert!(!b.served(&prod, PROJECT).await, "degraded past the plan");
    let project = ok(a, "GET", &format!("/admin/v1/projects/{PROJECT}"), None).await;
    assert_eq!(
        project["tile"]["adds"],
        json!({"used": 3, "limit": 3, "alerts_fired": [75, 90, 100]})
    );
    let mut types = Vec::new();
    for _ in 0..3 {
        let arrival = hook.next().await;
        assert!(arrival.verifies(&secret, b.clock.now()));
        types.push((
            arrival.json()["type"].as_str().unwrap().to_owned(),
            arrival.json()["data"]["threshold"].as_u64().unwrap(),
        ));
    }
    types.sort();
    assert_eq!(
        types,
        [
            ("quota.exhausted".to_owned(), 100),
            ("quota.threshold".to_owned(), 75),
            ("quota.threshold".to_owned(), 90)
        ]
    );

    // The dead-letter count watched: the receiver goes away, the next alert is a dead letter.
    hook.answer(410);
    ok(
        a,
        "POST",
        "/admin/v1/projects",
        Some(json!({"id": "proj_next", "adds_per_month": 1, "queries_per_month": 1})),
    )
    .await;
    let next = ok(
        a,
        "POST",
        "/admin/v1/keys",
        Some(json!({"project": "proj_next", "environment": "production"})),
    )
    .await;
    let next = next["key"].as_str().unwrap().to_owned();
    eventually("B meters the new project", async || {
        b.deployment.plans().get("proj_next").is_some()
    })
    .await;
    assert!(b.served(&next, "proj_next").await);
    eventually("A counts the dead letters", async || {
        ok(a, "GET", "/admin/v1/webhooks/dead-letters", None).await["count"].as_u64() >= Some(1)
    })
    .await;
    let shown = ok(
        a,
        "GET",
        &format!("/admin/v1/webhooks/endpoints/{endpoint}"),
        None,
    )
    .await;
    assert_eq!(shown["state"], "disabled_gone");

    // Rotation: both keys through the grace, the old one refused after it, then revoked.
    let rotated = ok(
        a,
        "POST",
        "/admin/v1/keys/key_prod/rotate",
        Some(json!({"grace_seconds": 600, "id": "key_prod2"})),
    )
    .await;
    let new = rotated["key"].as_str().unwrap().to_owned();
    assert!(b.add_with(&new).await.0.is_success());
    assert!(
        b.add_with(&prod).await.0.is_success(),
        "the old key works through the grace"
    );
    for instance in [a, b] {
        instance.clock.advance(Duration::from_secs(600));
    }
    assert_eq!(
        b.add_with(&prod).await,
        (StatusCode::UNAUTHORIZED, Some("expired_api_key".to_owned()))
    );
    assert!(b.add_with(&new).await.0.is_success());
    ok(a, "POST", "/admin/v1/keys/key_prod/revoke", None).await;
    eventually(
        "B refuses the revoked key instead of the expired one",
        async || b.add_with(&prod).await.1.as_deref() == Some("revoked_api_key"),
    )
    .await;

    // Every task is in the audit chain, which is intact.
    let events = ok(a, "GET", "/admin/v1/audit?key_id=key_prod&limit=500", None).await;
    let methods: Vec<_> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("/admin/"))
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        methods.contains(&"/admin/v1/keys/key_prod/rotate".to_owned()),
        "{methods:?}"
    );
    assert!(
        methods.contains(&"/admin/v1/keys/key_prod/revoke".to_owned()),
        "{methods:?}"
    );
    assert_eq!(
        ok(a, "GET", "/admin/v1/audit/verify", None).await["ok"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checklist_through_the_api_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let admin = Admin::start(Backend::Embedded(dir.path())).await;
    checklist(&admin, &admin).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checklist_through_the_api_on_redis_with_two_instances() {
    let Some((_redis, a, b)) = Admin::pair_on_redis().await else {
        return;
    };
    checklist(&a, &b).await;
}
