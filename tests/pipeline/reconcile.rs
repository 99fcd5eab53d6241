//! `Deployment::reconcile` on the in-memory stores: the config-edit scenario of
//! `tests/common/reconcile.rs`.

use crate::common::reconcile::config_edits_apply_without_a_restart;

#[tokio::test]
async fn memory_config_edits_apply_without_a_restart_and_older_files_are_refused() {
    config_edits_apply_without_a_restart("", "node-memory").await;
}

/// The scenario on the embedded store, then a restart on the older file: it is refused (the
/// applied version is on disk), and every edit it would undo stays: the removed key revoked,
/// the old hash of the rehashed key tombstoned, the API's key kept.
#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_config_edits_apply_and_survive_a_restart_on_an_older_file() {
    use crate::common::assert_problem;
    use crate::common::reconcile::{
        Keys, assert_served, config, edited_file, first_file, insert_api_key, options, query,
    };
    use memorysync_pipeline::audit::MemoryAuditSink;
    use memorysync_pipeline::deployment::Deployment;

    let state = tempfile::tempdir().unwrap();
    let store = format!(
        "[store]\nbackend = \"embedded\"\npath = \"{}\"\n",
        state.path().display()
    );
    config_edits_apply_without_a_restart(&store, "node-embedded").await;

    // The same edits by hand on a fresh store, then a restart on the older file.
    let fresh = tempfile::tempdir().unwrap();
    let store = format!(
        "[store]\nbackend = \"embedded\"\npath = \"{}\"\n",
        fresh.path().display()
    );
    let keys = Keys::new();
    let sink = MemoryAuditSink::new();
    let deployment = Deployment::start(&config(&first_file(&keys, &store)), options(&sink, "a"))
        .await
        .unwrap();
    insert_api_key(&deployment, &keys).await;
    deployment
        .reconcile(&config(&edited_file(&keys, &store, 2)))
        .await
        .unwrap();
    deployment
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .unwrap();

    let restarted = Deployment::start(&config(&first_file(&keys, &store)), options(&sink, "a"))
        .await
        .unwrap();
    assert_problem(
        &query(&restarted, &keys.remove).await,
        401,
        "revoked_api_key",
    );
    assert_problem(
        &query(&restarted, &keys.rehash_old).await,
        401,
        "invalid_api_key",
    );
    assert_served(&query(&restarted, &keys.rehash_new).await);
    assert_served(&query(&restarted, &keys.api).await);
    // The version applied before the restart was read back from disk.
    let error = restarted
        .reconcile(&config(&first_file(&keys, &store)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            memorysync_pipeline::deployment::ReconcileError::Older {
                version: 1,
                applied: 2
            }
        ),
        "{error:?}"
    );
    restarted
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .unwrap();
}
