//! [`Deployment::reconcile`]: the config file's keys and plans made the stores', at every start
//! and whenever the operator asks (`memorysync serve` on SIGHUP), on every backend. What it
//! changes and what it refuses is documented on the method.

#[cfg(feature = "redis")]
pub(super) mod detached;
mod digest;
mod keys;
mod plans;
mod report;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Deployment;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::key::KeyStoreError;
use crate::quota::QuotaPlans;
use crate::store::{AppliedConfig, ConfigClaim, ConfigVersionStore, StoreError};

/// How long a reconciliation may write before another may claim the store: far longer than
/// one takes (a few round trips per key), short enough that a process that died mid-way holds
/// up the next for half a minute at most.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// How often a reconciliation asks again while another holds the lease.
const LEASE_RETRY: Duration = Duration::from_millis(200);

/// What a reconciliation changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileSummary {
    /// The file's `config_version`.
    pub config_version: u64,
    /// Keys added.
    pub added: usize,
    /// Keys replaced: a new hash, limits, expiry, environment or project.
    pub changed: usize,
    /// Keys revoked: gone from the file, or given `revoked_at` by it.
    pub revoked: usize,
    /// Projects whose plan was added, changed or dropped.
    pub plans_changed: usize,
    /// Records of the file that were not applied, each with the reason.
    pub refused: Vec<Refused>,
}

/// A record of the file that a reconciliation did not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// `key` or `plan`.
    pub kind: &'static str,
    /// The key's or the project's id.
    pub id: Arc<str>,
    /// Why.
    pub reason: String,
}

impl Refused {
    fn key(id: &Arc<str>, reason: impl Into<String>) -> Self {
        Refused {
            kind: "key",
            id: Arc::clone(id),
            reason: reason.into(),
        }
    }

    fn plan(project: &str, reason: impl Into<String>) -> Self {
        Refused {
            kind: "plan",
            id: Arc::from(project),
            reason: reason.into(),
        }
    }
}

/// Why a reconciliation did not apply the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReconcileError {
    /// The store applied a newer file; nothing was changed.
    Older {
        /// The file's `config_version`.
        version: u64,
        /// The version the store applied.
        applied: u64,
    },
    /// The store applied another file with this `config_version`; nothing was changed.
    Conflicting {
        /// The version both files carry.
        version: u64,
    },
    /// Another reconciliation held the store for longer than its lease.
    Busy,
    /// A store did not answer. What was written before stays written; applying the same file
    /// again finishes the work.
    Store(StoreError),
}

impl ReconcileError {
    /// Whether the file itself was refused (older, or conflicting with the applied one), as
    /// opposed to a store that did not answer.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ReconcileError::Older { .. } | ReconcileError::Conflicting { .. }
        )
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconcileError::Older { version, applied } => write!(
                f,
                "config_version {version} is older than {applied}, the version the store applied; \
                 the file was refused and nothing changed"
            ),
            ReconcileError::Conflicting { version } => write!(
                f,
                "the store applied another file with config_version {version}; give this one a \
                 higher config_version (the file was refused and nothing changed)"
            ),
            ReconcileError::Busy => f.write_str(
                "another reconciliation held the store for longer than its lease; try again",
            ),
            ReconcileError::Store(error) => write!(f, "reconciliation stopped: {error}"),
        }
    }
}

impl std::error::Error for ReconcileError {}

impl From<StoreError> for ReconcileError {
    fn from(error: StoreError) -> Self {
        ReconcileError::Store(error)
    }
}

impl From<KeyStoreError> for ReconcileError {
    fn from(error: KeyStoreError) -> Self {
        match error {
            KeyStoreError::Store(error) => ReconcileError::Store(error),
            // Refusals of single keys are collected, never returned: only a store error is.
            other => ReconcileError::Store(StoreError::new(other.to_string())),
        }
    }
}

impl Deployment {
    /// Makes the stores hold what `config` says of keys and plans. [`Deployment::start`] calls
    /// it with the config it started from; call it again with a reloaded file to apply an edit
    /// without a restart. One reconciliation at a time runs in a process; a second call waits.
    ///
    /// - **Ownership.** Every key record and every plan has an owner, the file or the admin API
    ///   ([`RecordOwner`](crate::key::RecordOwner)). Reconciling adds, changes and removes only the file's records: a key
    ///   added to the file is added; a key whose hash, limits, expiry, environment or project
    ///   changed is replaced ([`KeyStore::upsert`](crate::key::KeyStore::upsert): a new hash tombstones the old one, so the old
    ///   key never works again); a key gone from the file is revoked and tombstoned. A key or plan
    ///   of the API's is never touched, and a file that names one is refused for that record.
    /// - **Revocation is one-way.** A key the store holds revoked stays revoked: a file that still
    ///   names it, or names it again without `revoked_at`, is refused for that key (logged), and
    ///   the rest of the file applies.
    /// - **Plans** apply at once: the quota stage reads the new plans on its next request
    ///   ([`QuotaDegradeLayer::set_plans`](crate::quota::QuotaDegradeLayer::set_plans)). A project
    ///   gone from the file loses its plan, so its requests are no longer metered. The plans the
    ///   admin API manages ([`Deployment::set_plan`]) are read from the store afresh and stay in
    ///   force; a file project among them is refused.
    /// - **`config_version`.** The store remembers the highest version applied and the digest of
    ///   that file's reconciled content (its keys and plans, in a canonical form): a file with a
    ///   lower version is refused, and so is a file with the same version and other content. The
    ///   store is then left exactly as it was; the refusal is logged and audited. The check and
    ///   the record are one atomic step ([`ConfigVersionStore::claim`]), and a lease lets one
    ///   reconciliation at a time write, so two instances reconciling at once never interleave.
    ///   In memory the deployment keeps both; on Redis they are `config:applied` and
    ///   `config:reconciling` under the store's prefix.
    /// - **Reporting.** Each reconciliation, applied or refused, is logged with its summary and
    ///   recorded in the audit log as an event of its own: method `RECONCILE`, path `/config`,
    ///   status 200 (applied), 409 (refused) or 503 (a store did not answer), outcome `allowed`
    ///   or `error`, and a `detail` field with the version and the counts.
    ///
    /// Only keys and plans are reconciled. Everything else in the file (listeners, `[store]`,
    /// `[server]` and its TLS, `[audit]`, `[health]`, `[limits]`, `[[webhooks]]`,
    /// `[[quota.routes]]`, `[[admin_tokens]]`, `environment`) takes a restart.
    ///
    /// # Errors
    /// [`ReconcileError`]: a file older than, or conflicting with, the one the store applied
    /// (nothing changed), or a store that did not answer. Either way the reason is logged and
    /// audited, and requests go on being served.
    pub async fn reconcile(&self, config: &Config) -> Result<ReconcileSummary, ReconcileError> {
        let _one_at_a_time = self.reconciling.lock().await;
        let now = self.clock.now();
        let file = AppliedConfig {
            version: config.config_version,
            digest: digest::of(config),
        };
        let id = report::reconciliation_id();
        let result = self.claimed(config, file, &id, now).await;
        report::logged(&result, file);
        self.audit
            .record(report::event(&result, file, id, now))
            .await;
        result
    }

    /// Claims the store for `file`, applies it, and gives the lease back.
    async fn claimed(
        &self,
        config: &Config,
        file: AppliedConfig,
        id: &str,
        now: Timestamp,
    ) -> Result<ReconcileSummary, ReconcileError> {
        let holder = format!("{}:{id}", self.instance);
        let mut summary =
            under_claim(&self.versions, file, &holder, self.apply(config, now)).await?;
        summary.config_version = file.version;
        Ok(summary)
    }

    async fn apply(
        &self,
        config: &Config,
        now: Timestamp,
    ) -> Result<ReconcileSummary, ReconcileError> {
        let keys = keys::reconcile(&*self.keys, &config.keys, now).await?;
        let file = QuotaPlans::from_config(config);
        let (before, after, api_owned) = self.plan_book.reconcile_file(file).await?;
        let plans_changed = plans::changed(&before, &after);
        let mut refused = keys.refused;
        refused.extend(plans::refused(api_owned));
        Ok(ReconcileSummary {
            config_version: config.config_version,
            added: keys.added,
            changed: keys.changed,
            revoked: keys.revoked,
            plans_changed,
            refused,
        })
    }
}

/// Claims `versions` for `file` as `holder`, runs `work`, and gives the lease back. A file older
/// than, or conflicting with, the one applied is refused before `work` starts; another
/// reconciliation holding the lease is waited for, at most one lease.
pub(super) async fn under_claim<V, T>(
    versions: &V,
    file: AppliedConfig,
    holder: &str,
    work: impl std::future::Future<Output = Result<T, ReconcileError>>,
) -> Result<T, ReconcileError>
where
    V: ConfigVersionStore,
{
    let deadline = tokio::time::Instant::now() + LEASE + Duration::from_secs(1);
    loop {
        match versions.claim(file, holder, LEASE).await? {
            ConfigClaim::Newer | ConfigClaim::Same => break,
            ConfigClaim::Older { applied } => {
                return Err(ReconcileError::Older {
                    version: file.version,
                    applied: applied.version,
                });
            }
            ConfigClaim::Conflicting { .. } => {
                return Err(ReconcileError::Conflicting {
                    version: file.version,
                });
            }
            ConfigClaim::Busy if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(LEASE_RETRY).await;
            }
            ConfigClaim::Busy => return Err(ReconcileError::Busy),
        }
    }
    let done = work.await;
    if let Err(error) = versions.release(holder).await {
        // The lease expires by itself; the next reconciliation waits for it at most.
        tracing::warn!(%error, "the reconciliation's lease was not given back");
    }
    done
}
