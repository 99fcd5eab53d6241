//! The per-attempt webhook delivery log of a deployment, on the backend `store.backend` names,
//! kept for `[audit] retention_days`.

use super::Deployment;
use super::backend::on_backend;
use crate::config::Config;
#[cfg(feature = "embedded")]
use crate::embedded_store::EmbeddedAttemptLog;
#[cfg(feature = "redis")]
use crate::redis_store::RedisAttemptLog;
use crate::store::StoreError;
use crate::webhook::attempt_log::{
    AttemptLog, AttemptPage, AttemptQuery, AttemptRecord, MemoryAttemptLog, PageError,
};

/// Where a deployment's webhook delivery attempts are kept.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DeploymentAttempts {
    /// `store.backend = "memory"`: bounded, in this process.
    Memory(MemoryAttemptLog),
    /// `store.backend = "redis"`: one stream for every instance.
    #[cfg(feature = "redis")]
    Redis(RedisAttemptLog),
    /// `store.backend = "embedded"`: a table of the database.
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedAttemptLog),
}

impl AttemptLog for DeploymentAttempts {
    async fn record(&self, attempt: AttemptRecord) -> Result<(), StoreError> {
        on_backend!(self, log => log.record(attempt).await)
    }

    async fn query(&self, query: &AttemptQuery) -> Result<AttemptPage, PageError> {
        on_backend!(self, log => log.query(query).await)
    }
}

impl Deployment {
    /// The webhook delivery attempts, newest first, by endpoint and outcome: every attempt of
    /// every instance sharing the store, for the audit retention.
    pub fn webhook_attempts(&self) -> &DeploymentAttempts {
        &self.webhook_parts.attempts
    }
}

/// The in-memory log, for the memory backend.
pub(super) fn memory(config: &Config) -> DeploymentAttempts {
    DeploymentAttempts::Memory(MemoryAttemptLog::new(config.audit.retention))
}
