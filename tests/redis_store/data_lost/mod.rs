//! A Redis that lost its data under running deployments (`FLUSHALL` on a `redis-server` of the
//! test's own, since deployments keep their keys under the default prefix): noticed by the first
//! request, each `on_store_error` policy applied as in an outage, `/health` degraded with
//! `data_lost`, an instance starting meanwhile seeding nothing, and after `reseed` every key of
//! the file working again on every deployment, which adopt the new epoch by themselves.

mod epoch;

use std::time::{Duration, Instant};

use http::Request;
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::MemoryAuditSink;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{
    Deployment, DeploymentOptions, ReconcileError, ReseedError, reseed,
};
use memorysync_pipeline::key::{ApiKey, KeyStore};
use tower::ServiceExt;

use crate::common::redis::RedisServer;

/// The keys of the file.
struct Keys {
    /// Used by every deployment before the flush.
    seen: ApiKey,
    /// Used by no request before the flush.
    unseen: ApiKey,
    /// Revoked in the file.
    revoked: ApiKey,
}

fn config(url: &str, policy: &str, keys: &Keys) -> Config {
    config_versioned(url, policy, keys, 3)
}

fn config_versioned(url: &str, policy: &str, keys: &Keys, version: u64) -> Config {
    let key = |id: &str, key: &ApiKey, extra: &str| {
        format!(
            "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"proj_a\"\nenvironment = \"development\"\nrps = 100\n{extra}",
            key.hash().to_hex()
        )
    };
    let text = [
        format!(
            "config_version = {version}\nenvironment = \"development\"\n[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\non_store_error = \"{policy}\"\n"
        ),
        "[[projects]]\nid = \"proj_a\"\nadds_per_month = 100\nqueries_per_month = 100\n".into(),
        key("key_seen", &keys.seen, "rpm = 3\n"),
        key("key_unseen", &keys.unseen, "rpm = 100\n"),
        key(
            "key_revoked",
            &keys.revoked,
            "rpm = 100\nrevoked_at = \"2026-01-01T00:00:00Z\"\n",
        ),
    ]
    .concat();
    Config::from_toml(&text).unwrap()
}

async fn start(config: &Config, instance: &str) -> Deployment {
    let options = DeploymentOptions::new()
        .with_instance(instance)
        .with_audit_sink(MemoryAuditSink::new());
    Deployment::start(config, options).await.unwrap()
}

/// The status and problem `code` (empty on success) of `GET /v1/memories` with `key`.
async fn call(deployment: &Deployment, key: &ApiKey) -> (u16, String) {
    let request = Request::get("/v1/memories")
        .header("authorization", format!("Bearer {}", key.expose_secret()))
        .header("x-project-id", "proj_a")
        .body(String::new())
        .unwrap();
    let (status, body) = answer(deployment, request).await;
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    (status, code)
}

/// `/health`'s `redis` check: `ok` when the report is ok.
async fn redis_health(deployment: &Deployment) -> String {
    let request = Request::get("/health").body(String::new()).unwrap();
    let (status, report) = answer(deployment, request).await;
    assert_eq!(status, 200, "{report}");
    match report["status"].as_str() {
        Some("ok") => "ok".into(),
        _ => report["checks"]["redis"].as_str().unwrap_or("?").into(),
    }
}

async fn answer(deployment: &Deployment, request: Request<String>) -> (u16, serde_json::Value) {
    let app = deployment
        .layer()
        .around(tower::service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(r#"{"results":[]}"#.to_owned()))
        }));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// Asks `call` until it answers `expected`, for at most five seconds (the epoch is looked at
/// every second and the stages' breakers probe every 250 ms).
async fn until_answers(
    what: &str,
    expected: (u16, &str),
    mut call: impl AsyncFnMut() -> (u16, String),
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, code) = call().await;
        if (status, code.as_str()) == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {status} {code}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn flushall(url: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut connection)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushall_is_noticed_each_policy_applies_and_a_reseed_brings_every_file_key_back() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let url = redis.url();
    let keys = Keys {
        seen: ApiKey::generate(Environment::Development).unwrap(),
        unseen: ApiKey::generate(Environment::Development).unwrap(),
        revoked: ApiKey::generate(Environment::Development).unwrap(),
    };
    let local = start(&config(&url, "local", &keys), "local").await;
    let allow = start(&config(&url, "allow", &keys), "allow").await;
    let deny = start(&config(&url, "deny", &keys), "deny").await;
    for deployment in [&local, &allow, &deny] {
        assert_eq!(redis_health(deployment).await, "ok");
        assert_eq!(call(deployment, &keys.seen).await, (200, String::new()));
    }
    assert_eq!(call(&local, &keys.revoked).await.1, "revoked_api_key");

    flushall(&url).await;

    // Noticed by the first request, before any health probe: the seen key is still admitted on
    // its last known record, with local limits counted from the loss (3 a minute).
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(call(&local, &keys.seen).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429], "local limits apply");
    // Reconciling the file at start, each deployment saw every key of it.
    assert_eq!(call(&local, &keys.unseen).await.0, 200);
    // allow: admitted and uncounted, past the rate limit.
    for _ in 0..5 {
        assert_eq!(call(&allow, &keys.seen).await.0, 200);
    }
    let refused = (503, "store_unavailable".to_owned());
    assert_eq!(call(&deny, &keys.seen).await, refused);
    for deployment in [&local, &allow, &deny] {
        assert_eq!(redis_health(deployment).await, "data_lost");
    }

    // An instance starting after the loss was reported seeds nothing and knows no key.
    let late = start(&config(&url, "local", &keys), "late").await;
    assert_eq!(redis_health(&late).await, "data_lost");
    assert_eq!(call(&late, &keys.seen).await, refused);
    let mut db = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let id: Option<String> = redis::cmd("HGET")
        .arg("memorysync:epoch")
        .arg("id")
        .query_async(&mut db)
        .await
        .unwrap();
    assert_eq!(id, None, "no epoch seeded over the loss");

    let reseeded = reseed(&config(&url, "local", &keys)).await.unwrap();
    assert_eq!(
        (reseeded.added, reseeded.changed, reseeded.revoked),
        (2, 0, 1)
    );
    assert!(reseeded.refused.is_empty(), "{:?}", reseeded.refused);
    assert_eq!(reseeded.config_version, 3);
    // The version is remembered again: an older file cannot reseed over it.
    let older = reseed(&config_versioned(&url, "local", &keys, 2)).await;
    assert!(
        matches!(
            older,
            Err(ReseedError::Reconcile(ReconcileError::Older {
                applied: 3,
                ..
            }))
        ),
        "{older:?}"
    );
    assert_eq!(reseeded.before.epoch, None);
    assert!(reseeded.before.loss_reported_at.is_some());

    // Each adopts the new epoch at its next look; its stages' breakers close at their next
    // probe. Each answer below can only come from Redis: the local deployment spent its local
    // limit of `key_seen` (3 a minute); deny never answers otherwise; the late deployment never
    // saw a key.
    let ok = (200, "");
    for (name, deployment) in [
        ("local", &local),
        ("allow", &allow),
        ("deny", &deny),
        ("late", &late),
    ] {
        until_answers(name, (200, "ok"), async || {
            (200, redis_health(deployment).await)
        })
        .await;
    }
    until_answers("local", ok, async || call(&local, &keys.seen).await).await;
    until_answers("deny", ok, async || call(&deny, &keys.unseen).await).await;
    until_answers("late", ok, async || call(&late, &keys.unseen).await).await;
    // allow admits a key it has seen on its last known record meanwhile. A revocation made
    // through its key store shows at once (the last known record is updated too), so it says
    // nothing of whether allow reads Redis again: the key the file revoked, which allow never
    // saw, does, as an unseen key is never answered from memory. allow's breaker closes at its
    // next probe, hence the wait.
    let now = SystemClock.now();
    allow.keys().revoke("key_seen", now).await.unwrap();
    let revoked = (401, "revoked_api_key");
    until_answers("allow", revoked, async || call(&allow, &keys.seen).await).await;
    for (name, deployment) in [
        ("local", &local),
        ("allow", &allow),
        ("deny", &deny),
        ("late", &late),
    ] {
        until_answers(name, revoked, async || {
            call(deployment, &keys.revoked).await
        })
        .await;
    }
    for deployment in [local, allow, deny, late] {
        let report = deployment.shutdown(Duration::from_secs(5)).await;
        assert!(report.is_ok(), "{report:?}");
    }
}
