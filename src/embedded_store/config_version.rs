//! `EmbeddedConfigVersions`: the config file last reconciled with the embedded store, kept in
//! its database so that a restart on an older file is refused as on Redis.
//!
//! One process holds the store (its directory lock), so the check, the record and the lease are
//! decided in memory; a newer file is committed to disk before the claim returns.

use std::time::Duration;

use super::EmbeddedStore;
use super::writer::Op;
use crate::store::{
    AppliedConfig, ConfigClaim, ConfigVersionStore, MemoryConfigVersions, StoreError,
};

/// The config versions of the embedded store. Clones share them.
#[derive(Clone, Debug)]
pub struct EmbeddedConfigVersions {
    pub(super) store: EmbeddedStore,
}

impl EmbeddedConfigVersions {
    fn versions(&self) -> &MemoryConfigVersions {
        &self.store.shared.config_versions
    }
}

impl ConfigVersionStore for EmbeddedConfigVersions {
    async fn claim(
        &self,
        file: AppliedConfig,
        holder: &str,
        lease: Duration,
    ) -> Result<ConfigClaim, StoreError> {
        let claim = self.versions().claim(file, holder, lease).await?;
        if claim == ConfigClaim::Newer {
            self.store
                .shared
                .writer
                .commit(vec![Op::PutConfig(file)])
                .await?;
        }
        Ok(claim)
    }

    async fn release(&self, holder: &str) -> Result<(), StoreError> {
        self.versions().release(holder).await
    }

    async fn applied(&self) -> Result<Option<AppliedConfig>, StoreError> {
        self.versions().applied().await
    }
}
