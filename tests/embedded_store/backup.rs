//! Online backup, offline restore: a restore keeps every tombstone of the current store, so a
//! key revoked after the backup stays refused, and never hands back quota units.

use std::sync::Arc;

use memorysync_pipeline::embedded_store::{EmbeddedError, restore};
use memorysync_pipeline::key::{KeyHash, KeyStore, KeyStoreError};
use memorysync_pipeline::quota::{AlertThresholds, Month, Operation, QuotaKey, QuotaStore};

use crate::{now, open, record};

#[tokio::test]
async fn a_key_revoked_after_the_backup_stays_revoked_after_the_restore() {
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let copy = backup.path().join("state.backup");
    let quota = QuotaKey {
        project: Arc::from("proj_a"),
        operation: Operation::Query,
        month: Month::of(now()),
    };
    {
        let store = open(dir.path());
        let keys = store.keys();
        keys.insert(record("key_a", 1), now()).await.unwrap();
        keys.insert(record("key_b", 2), now()).await.unwrap();
        store.backup(&copy).await.unwrap();
        // After the backup: a revocation, a new key revoked at once, units spent.
        keys.revoke("key_a", now()).await.unwrap();
        keys.insert(record("key_c", 3), now()).await.unwrap();
        keys.revoke("key_c", now()).await.unwrap();
        for _ in 0..5 {
            store
                .quotas()
                .reserve(&quota, 100, AlertThresholds::NONE)
                .await
                .unwrap();
        }
        // A restore needs the store closed.
        let refused = restore(dir.path(), &copy, now()).unwrap_err();
        assert!(
            matches!(refused, EmbeddedError::InUse { .. }),
            "{refused:?}"
        );
        store.close().await;
    }
    let report = restore(dir.path(), &copy, now()).unwrap();
    assert_eq!((report.keys, report.revoked), (3, 2), "{report:?}");
    assert!(report.previous.is_some_and(|p| p.exists()));

    let store = open(dir.path());
    let keys = store.keys();
    for n in [1, 3] {
        let entry = keys
            .find_by_hash(&KeyHash::from_bytes([n; 32]))
            .await
            .unwrap()
            .unwrap();
        assert!(
            entry.record().is_revoked(now()),
            "key {n} works again after the restore"
        );
    }
    let b = keys
        .find_by_hash(&KeyHash::from_bytes([2; 32]))
        .await
        .unwrap()
        .unwrap();
    assert!(!b.record().is_revoked(now()));
    assert_eq!(
        keys.insert(record("key_again", 1), now()).await,
        Err(KeyStoreError::Tombstoned(Arc::from("key_again")))
    );
    assert_eq!(
        store.quotas().used(&quota).await.unwrap(),
        5,
        "spent units stay spent"
    );
}

/// A backup carries the plans the admin API manages, and a restore brings back the backup's.
#[tokio::test]
async fn the_admin_apis_plans_are_in_the_backup_and_come_back_with_it() {
    use memorysync_pipeline::quota::{Plan, PlanStore, PutMode};

    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let copy = backup.path().join("state.backup");
    let kept = Plan {
        alert_thresholds: AlertThresholds::new([10, 100]),
        ..Plan::new(u64::MAX, 7)
    };
    {
        let store = open(dir.path());
        store
            .plans()
            .put("proj_a", kept.clone(), PutMode::Set)
            .await
            .unwrap();
        store.backup(&copy).await.unwrap();
        let plans = store.plans();
        plans
            .put("proj_a", Plan::new(1, 1), PutMode::Set)
            .await
            .unwrap();
        store.close().await;
    }
    restore(dir.path(), &copy, now()).unwrap();
    let store = open(dir.path());
    let plans = store.plans().load().await.unwrap().plans;
    assert_eq!(plans.get("proj_a"), Some(&kept));
    store.close().await;
}
