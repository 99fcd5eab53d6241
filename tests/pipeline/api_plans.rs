//! The admin API's plans (`Deployment::set_plan`, `Deployment::create_project`) on the memory
//! and embedded backends: the scenario of `tests/common/api_plans.rs`, a restart of the
//! embedded deployment that keeps the plan in force and metered, the plan stores' suite, and
//! `KeyStore::record` on the deployment's key store.

use std::time::Duration;

use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::deployment::{Deployment, DeploymentKeys};
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::quota::MemoryPlanStore;

use crate::common::api_plans::{
    API_PROJECT, PlanKeys, add, adds_used, api_plans_apply_at_once, file, insert_api_key, options,
    raised, served,
};
use crate::common::key_record::record_suite;
use crate::common::plan_store::plan_store_suite;

#[tokio::test]
async fn memory_api_plans_are_metered_at_once_and_kept_by_a_reconciliation() {
    let keys = PlanKeys::new();
    let deployment = Deployment::start(&file(&keys, "", 1, 5, ""), options("node-memory"))
        .await
        .unwrap();
    insert_api_key(&deployment, &keys).await;
    api_plans_apply_at_once(&deployment, &keys, "").await;
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn the_memory_plan_store_passes_the_suite() {
    plan_store_suite(&MemoryPlanStore::new()).await;
}

#[tokio::test]
async fn memory_key_stores_read_records_by_id() {
    record_suite(&MemoryKeyStore::new(), SystemClock.now(), 1, "memory").await;
    let deployed = DeploymentKeys::Memory(MemoryKeyStore::new());
    record_suite(&deployed, SystemClock.now(), 1, "deployed").await;
}

/// The scenario on the embedded store, then a clean restart and a crash-like drop: the API's
/// plan is read back from disk, in force, and its used adds still count against it.
#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_api_plans_survive_a_restart_in_force_and_metered() {
    let state = tempfile::tempdir().unwrap();
    let store = format!(
        "[store]\nbackend = \"embedded\"\npath = \"{}\"\n",
        state.path().display()
    );
    let keys = PlanKeys::new();
    let deployment = Deployment::start(&file(&keys, &store, 1, 5, ""), options("node-e"))
        .await
        .unwrap();
    insert_api_key(&deployment, &keys).await;
    api_plans_apply_at_once(&deployment, &keys, &store).await;
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();

    let restarted = Deployment::start(&file(&keys, &store, 3, 6, ""), options("node-e"))
        .await
        .unwrap();
    let plans = restarted.plans();
    assert_eq!(plans.get(API_PROJECT), Some(&raised()));
    assert_eq!(
        plans.owner(API_PROJECT),
        Some(memorysync_pipeline::key::RecordOwner::Api)
    );
    assert_eq!(adds_used(&restarted, API_PROJECT).await, Some((3, 3)));
    assert!(!served(&add(&restarted, &keys.api, API_PROJECT).await));

    // Raised again and dropped without a shutdown: the change was on disk when it returned.
    let roomy = memorysync_pipeline::quota::Plan::new(4, 100);
    restarted
        .set_plan(API_PROJECT, roomy.clone())
        .await
        .unwrap();
    drop(restarted);
    // The store is released once the dropped deployment's background tasks (the webhook
    // worker) have seen the drop and ended: soon, not at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let again = loop {
        match Deployment::start(&file(&keys, &store, 3, 6, ""), options("node-e")).await {
            Ok(deployment) => break deployment,
            Err(error) => {
                assert!(std::time::Instant::now() < deadline, "{error}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(again.plans().get(API_PROJECT), Some(&roomy));
    again.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_plan_store_passes_the_suite_and_reopens_with_its_plans() {
    use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
    use memorysync_pipeline::quota::PlanStore;

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    plan_store_suite(&store.plans()).await;
    let before = store.plans().load().await.unwrap().plans;
    // No close: each change was committed before it returned.
    drop(store);
    let reopened = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    assert_eq!(reopened.plans().load().await.unwrap().plans, before);
    reopened.close().await;
}

#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_key_stores_read_records_by_id_across_a_reopen() {
    use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
    use memorysync_pipeline::key::KeyStore;

    let dir = tempfile::tempdir().unwrap();
    let now = SystemClock.now();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    record_suite(&store.keys(), now, 1, "embedded").await;
    record_suite(&DeploymentKeys::Embedded(store.keys()), now, 11, "deployed").await;
    let before = store.keys().record("key_a_embedded").await.unwrap();
    drop(store);
    let reopened = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    let after = reopened.keys().record("key_a_embedded").await.unwrap();
    assert!(after.as_ref().is_some_and(|r| r.revoked_at.is_some()));
    assert_eq!(after, before);
    reopened.close().await;
}
