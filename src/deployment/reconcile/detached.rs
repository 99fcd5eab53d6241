//! The file's keys reconciled with a key store directly, under the config version's claim,
//! when no deployment runs around them: what a reseed writes back into a Redis that lost its
//! data. The same rules as [`Deployment::reconcile`](super::super::Deployment::reconcile) for
//! keys; plans are each process's own and not written, and there is no audit log to record it.

use super::{ReconcileError, ReconcileSummary, digest, keys, under_claim};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::key::KeyStore;
use crate::store::{AppliedConfig, ConfigVersionStore};

/// Claims `versions` for `config` as `holder`, reconciles its keys with `keys`, and gives the
/// lease back. A file older than, or conflicting with, the one applied is refused with nothing
/// written; another reconciliation holding the lease is waited for, at most one lease.
pub(in crate::deployment) async fn reconcile_keys<K, V>(
    keys: &K,
    versions: &V,
    config: &Config,
    holder: &str,
    now: Timestamp,
) -> Result<ReconcileSummary, ReconcileError>
where
    K: KeyStore,
    V: ConfigVersionStore,
{
    let file = AppliedConfig {
        version: config.config_version,
        digest: digest::of(config),
    };
    let work = async {
        keys::reconcile(keys, &config.keys, now)
            .await
            .map_err(ReconcileError::from)
    };
    let changes = under_claim(versions, file, holder, work).await?;
    Ok(ReconcileSummary {
        config_version: file.version,
        added: changes.added,
        changed: changes.changed,
        revoked: changes.revoked,
        plans_changed: 0,
        refused: changes.refused,
    })
}
