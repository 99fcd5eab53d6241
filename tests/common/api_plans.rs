//! The admin API's plans on a deployment, the same on every backend: a project created and its
//! plan changed are metered at once, the file's projects are refused to the API, ids outside
//! the rule are refused, and a reconciliation keeps the API's plans and refuses a file project
//! the API manages.
#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;

use http::{Request, Response};
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::MemoryAuditSink;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, PlanChange, PlanError};
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, RecordOwner};
use memorysync_pipeline::quota::{AlertThresholds, Month, Operation, Plan};
use tower::service_fn;

use super::{Reply, send};

pub(crate) const FILE_PROJECT: &str = "proj_file";
pub(crate) const API_PROJECT: &str = "proj_api";

/// A key for each project: the file's project's in the file, the API's project's made in code
/// (a file key must name a file project).
pub(crate) struct PlanKeys {
    pub(crate) file: ApiKey,
    pub(crate) api: ApiKey,
}

impl PlanKeys {
    pub(crate) fn new() -> Self {
        let key = || ApiKey::generate(Environment::Development).unwrap();
        PlanKeys {
            file: key(),
            api: key(),
        }
    }
}

/// A file at `version` with `store` (a `[store]` table, or empty): `proj_file` with `file_adds`
/// adds a month and its key, and `extra` (more `[[projects]]`).
pub(crate) fn file(
    keys: &PlanKeys,
    store: &str,
    version: u64,
    file_adds: u64,
    extra: &str,
) -> Config {
    let key = |id: &str, key: &ApiKey, project: &str| {
        format!(
            "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"{project}\"\nenvironment = \"development\"\n",
            key.hash().to_hex()
        )
    };
    let text = format!(
        "environment = \"development\"\nconfig_version = {version}\n{store}\n\
         [[projects]]\nid = \"{FILE_PROJECT}\"\nadds_per_month = {file_adds}\nqueries_per_month = 100\n{extra}{}",
        key("key_file", &keys.file, FILE_PROJECT),
    );
    Config::from_toml(&text).unwrap()
}

/// Stores `proj_api`'s key, as the admin API would.
pub(crate) async fn insert_api_key(deployment: &Deployment, keys: &PlanKeys) {
    let record = KeyRecord::new(
        "key_api",
        keys.api.hash(),
        API_PROJECT,
        Environment::Development,
    );
    deployment
        .keys()
        .insert(record, SystemClock.now())
        .await
        .unwrap();
}

/// Options with the audit log in memory, named `instance`.
pub(crate) fn options(instance: &str) -> DeploymentOptions {
    DeploymentOptions::new()
        .with_audit_sink(MemoryAuditSink::new())
        .with_instance(instance)
}

/// `POST /v1/memories` (an add) for `project` with `key`, around a handler that answers
/// `served`.
pub(crate) async fn add(deployment: &Deployment, key: &ApiKey, project: &str) -> Reply {
    let request = Request::post("/v1/memories")
        .header("authorization", format!("Bearer {}", key.expose_secret()))
        .header("x-project-id", project)
        .body(String::new())
        .unwrap();
    let handler = service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new("served".to_owned()))
    });
    send(deployment.layer().around(handler), request).await
}

/// Whether an add was served (`true`) or degraded (`false`); anything else fails.
#[track_caller]
pub(crate) fn served(reply: &Reply) -> bool {
    assert_eq!(reply.status, 200, "{reply:?}");
    match reply.text() {
        "served" => true,
        r#"{"results":[]}"# => false,
        other => panic!("neither served nor degraded: {other}"),
    }
}

/// This month's adds of `project` against its plan.
pub(crate) async fn adds_used(deployment: &Deployment, project: &str) -> Option<(u64, u64)> {
    let month = Month::of(SystemClock.now());
    let usage = deployment.quota_usage(project, Operation::Add, month).await;
    usage.unwrap().map(|usage| (usage.used, usage.limit))
}

/// The plan the API raises `proj_api` to: three adds, one alert at half.
pub(crate) fn raised() -> Plan {
    Plan {
        alert_thresholds: AlertThresholds::new([50]),
        ..Plan::new(3, 100)
    }
}

/// The scenario on a deployment started from `file(keys, store, 1, 5, "")` with
/// [`insert_api_key`] done; leaves
/// `proj_api` at [`raised`] with its three adds used, and the file at version 2.
pub(crate) async fn api_plans_apply_at_once(deployment: &Deployment, keys: &PlanKeys, store: &str) {
    // No plan yet: unmetered.
    assert!(served(&add(deployment, &keys.api, API_PROJECT).await));
    assert_eq!(deployment.plans().get(API_PROJECT), None);

    // Created: in force for the next request.
    deployment
        .create_project(API_PROJECT, Plan::new(2, 100))
        .await
        .unwrap();
    let plans = deployment.plans();
    assert_eq!(plans.get(API_PROJECT), Some(&Plan::new(2, 100)));
    assert_eq!(plans.owner(API_PROJECT), Some(RecordOwner::Api));
    let metered: Vec<bool> = adds_served(deployment, keys, 3).await;
    assert_eq!(metered, [true, true, false], "two adds, then degraded");

    // Raised: the third add is served, the fourth degraded.
    assert_eq!(
        deployment.set_plan(API_PROJECT, raised()).await,
        Ok(PlanChange::Changed)
    );
    assert_eq!(adds_served(deployment, keys, 2).await, [true, false]);
    assert_eq!(adds_used(deployment, API_PROJECT).await, Some((3, 3)));
    assert_eq!(
        deployment.set_plan(API_PROJECT, raised()).await,
        Ok(PlanChange::Unchanged)
    );
    assert_eq!(deployment.plans().get(API_PROJECT), Some(&raised()));

    // Refusals: the file's project, a project that exists, ids outside the rule.
    let owned = |owner| PlanError::OwnedBy {
        project: FILE_PROJECT.into(),
        owner,
    };
    assert_eq!(
        deployment.set_plan(FILE_PROJECT, Plan::new(1, 1)).await,
        Err(owned(RecordOwner::Config))
    );
    assert_eq!(
        deployment
            .create_project(FILE_PROJECT, Plan::new(1, 1))
            .await,
        Err(PlanError::Exists {
            project: FILE_PROJECT.into(),
            owner: RecordOwner::Config
        })
    );
    assert_eq!(
        deployment
            .create_project(API_PROJECT, Plan::new(1, 1))
            .await,
        Err(PlanError::Exists {
            project: API_PROJECT.into(),
            owner: RecordOwner::Api
        })
    );
    for bad in ["", "proj api", "proj/../x", &"p".repeat(65), "projé"] {
        assert_eq!(
            deployment.set_plan(bad, Plan::new(1, 1)).await,
            Err(PlanError::InvalidProject),
            "{bad:?}"
        );
    }
    assert_eq!(
        deployment.plans().get(FILE_PROJECT),
        Some(&Plan::new(5, 100))
    );

    // A reconciliation: the file's plan changes, the API's stays, and the file's claim on
    // the API's project is refused.
    let claim = format!(
        "[[projects]]\nid = \"{API_PROJECT}\"\nadds_per_month = 1000\nqueries_per_month = 1000\n"
    );
    let summary = deployment
        .reconcile(&file(keys, store, 2, 6, &claim))
        .await
        .unwrap();
    assert_eq!(summary.plans_changed, 1, "{summary:?}");
    let refused: Vec<(&str, &str)> = summary.refused.iter().map(|r| (r.kind, &*r.id)).collect();
    assert_eq!(refused, [("plan", API_PROJECT)], "{summary:?}");
    let plans = deployment.plans();
    assert_eq!(plans.get(API_PROJECT), Some(&raised()));
    assert_eq!(plans.owner(API_PROJECT), Some(RecordOwner::Api));
    assert_eq!(plans.get(FILE_PROJECT), Some(&Plan::new(6, 100)));
    assert!(!served(&add(deployment, &keys.api, API_PROJECT).await));
}

/// `n` adds for `proj_api`, one after the other: which were served.
async fn adds_served(deployment: &Deployment, keys: &PlanKeys, n: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(served(&add(deployment, &keys.api, API_PROJECT).await));
    }
    out
}
