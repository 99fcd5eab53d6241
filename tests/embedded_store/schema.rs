//! The schema version: an older database is migrated at open, a newer one refused.

use redb::{ReadableDatabase, TableDefinition};

use memorysync_pipeline::embedded_store::{
    DATABASE_FILE, EmbeddedError, EmbeddedOptions, EmbeddedStore, SCHEMA_VERSION,
};
use memorysync_pipeline::key::{KeyHash, KeyStore};

use crate::now;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");

/// A database as version 1 wrote it: its meta table and one key record.
fn write_version(dir: &std::path::Path, version: u64) {
    let db = redb::Database::create(dir.join(DATABASE_FILE)).unwrap();
    let write = db.begin_write().unwrap();
    write
        .open_table(META)
        .unwrap()
        .insert("schema_version", version)
        .unwrap();
    let record = format!(
        r#"{{"id":"key_old","sha256":"{}","project":"proj_a","environment":"production","rps":3,"rpm":null,"expires_at":null,"revoked_at":null}}"#,
        "ab".repeat(32)
    );
    write
        .open_table(KEYS)
        .unwrap()
        .insert("key_old", record.as_bytes())
        .unwrap();
    write.commit().unwrap();
}

fn stored_version(dir: &std::path::Path) -> u64 {
    let db = redb::Database::open(dir.join(DATABASE_FILE)).unwrap();
    let read = db.begin_read().unwrap();
    read.open_table(META)
        .unwrap()
        .get("schema_version")
        .unwrap()
        .unwrap()
        .value()
}

#[tokio::test]
async fn a_version_1_database_is_migrated_and_keeps_its_records() {
    assert_eq!(SCHEMA_VERSION, 2);
    let dir = tempfile::tempdir().unwrap();
    write_version(dir.path(), 1);
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
        let hash = KeyHash::from_hex(&"ab".repeat(32)).unwrap();
        let entry = store.keys().find_by_hash(&hash).await.unwrap().unwrap();
        assert_eq!(entry.record().rps, Some(3));
        // Written without windows: the deployment's defaults.
        assert_eq!(
            (entry.record().rps_window, entry.record().rpm_window),
            (None, None)
        );
        assert!(!entry.record().is_revoked(now()));
        store.close().await;
    }
    assert_eq!(stored_version(dir.path()), SCHEMA_VERSION);
}

#[test]
fn a_newer_database_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    write_version(dir.path(), SCHEMA_VERSION + 1);
    let error = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap_err();
    assert!(
        matches!(error, EmbeddedError::NewerSchema { found, supported, .. } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("newer than this build reads"),
        "{error}"
    );
    assert_eq!(stored_version(dir.path()), SCHEMA_VERSION + 1);
}

/// A database written before plans were kept (no `api_plans` table) opens with none, and keeps
/// the plans written since.
#[tokio::test]
async fn a_database_without_the_plans_table_opens_and_keeps_plans_from_then_on() {
    use memorysync_pipeline::quota::{Plan, PlanChange, PlanStore, PutMode};

    let dir = tempfile::tempdir().unwrap();
    write_version(dir.path(), SCHEMA_VERSION);
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
        assert!(store.plans().load().await.unwrap().plans.is_empty());
        let plans = store.plans();
        let put = plans.put("proj_a", Plan::new(4, 5), PutMode::Create).await;
        assert_eq!(put.unwrap().change, Some(PlanChange::Added));
        store.close().await;
    }
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    let plans = store.plans().load().await.unwrap().plans;
    assert_eq!(plans.get("proj_a"), Some(&Plan::new(4, 5)));
    assert!(store.keys().record("key_old").await.unwrap().is_some());
    store.close().await;
    assert_eq!(stored_version(dir.path()), SCHEMA_VERSION);
}
