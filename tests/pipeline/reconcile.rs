//! `Deployment::reconcile` on the in-memory stores: the config-edit scenario of
//! `tests/common/reconcile.rs`.

use crate::common::reconcile::config_edits_apply_without_a_restart;

#[tokio::test]
async fn memory_config_edits_apply_without_a_restart_and_older_files_are_refused() {
    config_edits_apply_without_a_restart("", "node-memory").await;
}
