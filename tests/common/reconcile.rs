//! The config-edit scenario of `Deployment::reconcile`, run on every backend: a file edited
//! (a key removed, one rehashed, one given an expiry, one new limits, one a longer per-minute
//! window, a plan changed) applied
//! without a restart, an API-owned key left alone, an older and a conflicting file refused
//! with nothing changed, a revoked key the file names again refused, and every reconciliation
//! in the audit log.
#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;

use http::{Request, Response};
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{MemoryAuditSink, verify};
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, ReconcileError};
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, RecordOwner};
use memorysync_pipeline::tombstone::{TombstoneKind, TombstoneStore};
use tower::service_fn;

use super::{Reply, assert_problem, send};

const PROJECT: &str = "proj_rec";

/// The keys of the scenario, by their role.
pub(crate) struct Keys {
    pub(crate) keep: ApiKey,
    pub(crate) remove: ApiKey,
    pub(crate) rehash_old: ApiKey,
    pub(crate) rehash_new: ApiKey,
    pub(crate) expire: ApiKey,
    pub(crate) limit: ApiKey,
    pub(crate) api: ApiKey,
}

impl Keys {
    pub(crate) fn new() -> Self {
        let key = || ApiKey::generate(Environment::Development).unwrap();
        Keys {
            keep: key(),
            remove: key(),
            rehash_old: key(),
            rehash_new: key(),
            expire: key(),
            limit: key(),
            api: key(),
        }
    }
}

fn entry(id: &str, key: &ApiKey, extra: &str) -> String {
    format!(
        "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n{extra}",
        key.hash().to_hex()
    )
}

/// The first file: five keys, adds allowed.
pub(crate) fn first_file(keys: &Keys, store: &str) -> String {
    format!(
        "environment = \"development\"\nconfig_version = 1\n{store}\n\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 100\nqueries_per_month = 100\n{}{}{}{}{}",
        entry("key_keep", &keys.keep, ""),
        entry("key_remove", &keys.remove, ""),
        entry("key_rehash", &keys.rehash_old, ""),
        entry("key_expire", &keys.expire, ""),
        entry("key_limit", &keys.limit, ""),
    )
}

/// The edit: `key_remove` gone, `key_rehash` a new hash, `key_expire` expired, `key_limit` at
/// one request per second, `key_keep` with a 10-minute per-minute window, and no adds left in
/// the plan.
pub(crate) fn edited_file(keys: &Keys, store: &str, version: u64) -> String {
    format!(
        "environment = \"development\"\nconfig_version = {version}\n{store}\n\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 0\nqueries_per_month = 100\n{}{}{}{}",
        entry("key_keep", &keys.keep, "rpm_window = \"10m\"\n"),
        entry("key_rehash", &keys.rehash_new, ""),
        entry(
            "key_expire",
            &keys.expire,
            "expires_at = \"2020-01-01T00:00:00Z\"\n"
        ),
        entry("key_limit", &keys.limit, "").replace("rps = 100", "rps = 1"),
    )
}

pub(crate) fn config(text: &str) -> Config {
    Config::from_toml(text).unwrap()
}

/// `POST path` with `key` through the pipeline, around a handler that answers `served`.
async fn call(deployment: &Deployment, path: &str, key: &ApiKey) -> Reply {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {}", key.expose_secret()))
        .header("x-project-id", PROJECT)
        .body(String::new())
        .unwrap();
    let handler = service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new("served".to_owned()))
    });
    send(deployment.layer().around(handler), request).await
}

/// A query (`POST /v1/memories/search`): metered against the query plan, which never changes.
pub(crate) async fn query(deployment: &Deployment, key: &ApiKey) -> Reply {
    call(deployment, "/v1/memories/search", key).await
}

/// An add (`POST /v1/memories`).
pub(crate) async fn add(deployment: &Deployment, key: &ApiKey) -> Reply {
    call(deployment, "/v1/memories", key).await
}

#[track_caller]
pub(crate) fn assert_served(reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "served", "{reply:?}");
}

/// Options with the audit log in `sink`, named `instance`.
pub(crate) fn options(sink: &MemoryAuditSink, instance: &str) -> DeploymentOptions {
    DeploymentOptions::new()
        .with_audit_sink(sink.clone())
        .with_instance(instance)
}

/// The `detail` and `status` of every `RECONCILE` line of `sink`, in order.
pub(crate) async fn reconciliations(
    deployment: &Deployment,
    sink: &MemoryAuditSink,
) -> Vec<(u16, String)> {
    deployment.audit().flush().await;
    let lines = sink.lines();
    assert_eq!(
        verify(
            lines.iter().map(String::as_str),
            Some(deployment.audit().head())
        ),
        Ok(lines.len()),
        "the chain stays valid with the reconciliation events in it"
    );
    lines
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["method"] == "RECONCILE")
        .map(|event| {
            assert_eq!(event["path"], "/config");
            let status = u16::try_from(event["status"].as_u64().unwrap()).unwrap();
            (status, event["detail"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The whole scenario on the backend `store` (a `[store]` table, or empty for memory).
pub(crate) async fn config_edits_apply_without_a_restart(store: &str, instance: &str) {
    let keys = Keys::new();
    let sink = MemoryAuditSink::new();
    let first = config(&first_file(&keys, store));
    let deployment = Deployment::start(&first, options(&sink, instance))
        .await
        .unwrap();
    insert_api_key(&deployment, &keys).await;
    for key in [
        &keys.keep,
        &keys.remove,
        &keys.rehash_old,
        &keys.expire,
        &keys.api,
    ] {
        assert_served(&query(&deployment, key).await);
    }
    assert_served(&add(&deployment, &keys.keep).await);
    for _ in 0..2 {
        assert_served(&query(&deployment, &keys.limit).await);
    }

    // The edit, applied without a restart.
    let edited = config(&edited_file(&keys, store, 2));
    let summary = deployment.reconcile(&edited).await.unwrap();
    assert_eq!(
        (
            summary.added,
            summary.changed,
            summary.revoked,
            summary.plans_changed
        ),
        (0, 4, 1, 1),
        "{summary:?}"
    );
    assert!(summary.refused.is_empty(), "{summary:?}");
    assert_edit_in_force(&deployment, &keys).await;
    assert!(
        deployment
            .tombstones()
            .contains(TombstoneKind::ApiKeyId, "key_remove", SystemClock.now())
            .await
            .unwrap(),
        "a key removed from the file is tombstoned"
    );

    // An older file is refused, and nothing changes.
    let error = deployment.reconcile(&first).await.unwrap_err();
    assert!(
        matches!(
            error,
            ReconcileError::Older {
                version: 1,
                applied: 2
            }
        ),
        "{error:?}"
    );
    assert_edit_in_force(&deployment, &keys).await;
    // Another file with the applied version is refused too.
    let conflicting = config(&edited_file(&keys, store, 2).replace("rpm = 1000", "rpm = 999"));
    let error = deployment.reconcile(&conflicting).await.unwrap_err();
    assert!(
        matches!(error, ReconcileError::Conflicting { version: 2 }),
        "{error:?}"
    );
    let kept = deployment
        .keys()
        .find_by_hash(&keys.keep.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.record().rpm,
        Some(1000),
        "the refused file changed nothing"
    );
    assert_edit_in_force(&deployment, &keys).await;
    // The same file again changes nothing and is not refused.
    let again = deployment.reconcile(&edited).await.unwrap();
    assert_eq!((again.added, again.changed, again.revoked), (0, 0, 0));

    // A newer file that names the revoked key again, and the API's key: both refused, the
    // rest applied.
    let readding = edited_file(&keys, store, 3)
        + &entry("key_remove", &keys.remove, "")
        + &entry("key_api", &keys.api, "");
    let summary = deployment.reconcile(&config(&readding)).await.unwrap();
    let mut refused: Vec<&str> = summary.refused.iter().map(|r| &*r.id).collect();
    refused.sort_unstable();
    assert_eq!(refused, ["key_api", "key_remove"], "{summary:?}");
    assert_problem(
        &query(&deployment, &keys.remove).await,
        401,
        "revoked_api_key",
    );
    let api = deployment
        .keys()
        .find_by_hash(&keys.api.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(api.record().owner, RecordOwner::Api);
    assert_eq!(api.record().rps, None, "the API's key is untouched");

    let audited = reconciliations(&deployment, &sink).await;
    let statuses: Vec<u16> = audited.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [200, 200, 409, 409, 200, 200], "{audited:?}");
    assert!(
        audited[1].1 == "config_version=2 added=0 changed=4 revoked=1 plans_changed=1 refused=0",
        "{audited:?}"
    );
    assert!(
        audited[2].1.contains("older than the applied 2"),
        "{audited:?}"
    );
    deployment
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .unwrap();
}

/// `key_api`: a key the API made, which the file never names.
pub(crate) async fn insert_api_key(deployment: &Deployment, keys: &Keys) {
    let api = KeyRecord::new(
        "key_api",
        keys.api.hash(),
        PROJECT,
        Environment::Development,
    );
    deployment
        .keys()
        .insert(api, SystemClock.now())
        .await
        .unwrap();
}

/// What the edited file says is what the pipeline does.
pub(crate) async fn assert_edit_in_force(deployment: &Deployment, keys: &Keys) {
    let kept = query(deployment, &keys.keep).await;
    assert_served(&kept);
    // 1,000 a minute over 10 minutes: 10,000 in any 10 minutes.
    assert_eq!(
        kept.headers["ratelimit-policy"], r#""rps";q=100;w=1, "rpm";q=10000;w=600"#,
        "{kept:?}"
    );
    assert_problem(
        &query(deployment, &keys.remove).await,
        401,
        "revoked_api_key",
    );
    assert_problem(
        &query(deployment, &keys.rehash_old).await,
        401,
        "invalid_api_key",
    );
    assert_served(&query(deployment, &keys.rehash_new).await);
    assert_problem(
        &query(deployment, &keys.expire).await,
        401,
        "expired_api_key",
    );
    assert_served(&query(deployment, &keys.api).await);
    // One request per second now: the second in a row is refused.
    let first = query(deployment, &keys.limit).await;
    let second = query(deployment, &keys.limit).await;
    assert!(
        first.status == 429 || second.status == 429,
        "{first:?} {second:?}"
    );
    assert_problem(
        if second.status == 429 {
            &second
        } else {
            &first
        },
        429,
        "rate_limited",
    );
    // No adds in the plan any more: an add is degraded, the handler not called.
    let degraded = add(deployment, &keys.keep).await;
    assert_eq!(degraded.status, 200);
    assert_eq!(degraded.json(), serde_json::json!({"results": []}));
    let plans = deployment.plans();
    assert_eq!(plans.get(PROJECT).map(|p| p.adds_per_month), Some(0));
}
