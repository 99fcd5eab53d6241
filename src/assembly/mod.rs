//! Where a checked [`Config`] becomes the stages' stores and layers.
//!
//! The stages and their stores do not know the config file; this module reads it and builds
//! them, so the arrows point from the config and the assembly down to the stages.

use std::num::NonZeroU32;

use crate::TrustedProxies;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::health::HealthRouteLayer;
use crate::key::{KeyStore, KeyStoreError, MemoryKeyStore};
use crate::quota::{
    AlertThresholds, DefaultClassifier, Plan, QuotaPlans, RouteClassifier, RoutesOrDefault,
};
use crate::store::RecordOwner;
use crate::tombstone::MemoryTombstones;

impl Config {
    /// An in-memory key store holding the file's keys, with tombstones kept for the configured
    /// period. Revoked keys in the file are loaded as revoked, and tombstoned.
    pub async fn memory_key_store(&self, now: Timestamp) -> Result<MemoryKeyStore, KeyStoreError> {
        let store =
            MemoryKeyStore::with_tombstones(MemoryTombstones::new(self.audit.tombstone_period));
        for record in &self.keys {
            store.insert(record.clone(), now).await?;
        }
        Ok(store)
    }

    /// The health route as configured: its per-IP rate, trusted proxies and exempt networks.
    pub fn health_layer(&self) -> HealthRouteLayer {
        let rps =
            NonZeroU32::new(self.health.per_ip_rps).unwrap_or(HealthRouteLayer::DEFAULT_PER_IP_RPS);
        HealthRouteLayer::new()
            .with_per_ip_rps(rps)
            .with_trusted_proxies(TrustedProxies::new(
                self.health.trusted_proxies.iter().copied(),
            ))
            .with_exempt(self.health.exempt.iter().copied())
    }

    /// The quota classifier the config names: its `[[quota.routes]]`, or the memory API's
    /// routes ([`DefaultClassifier`]) when it has none. For [`QuotaDegradeLayer::with_classifier`].
    ///
    /// [`QuotaDegradeLayer::with_classifier`]: crate::quota::QuotaDegradeLayer::with_classifier
    pub fn quota_classifier(&self) -> RoutesOrDefault {
        if self.quota.routes.is_empty() {
            RoutesOrDefault::Default(DefaultClassifier)
        } else {
            RoutesOrDefault::Routes(RouteClassifier::new(self.quota.routes.iter().cloned()))
        }
    }
}

impl QuotaPlans {
    /// The plans of a config file's `[[projects]]`, owned by the file.
    pub fn from_config(config: &Config) -> Self {
        config.projects.iter().fold(Self::new(), |plans, project| {
            plans.with_owned_plan(
                project.id.as_str(),
                Plan {
                    adds_per_month: project.adds_per_month,
                    queries_per_month: project.queries_per_month,
                    alert_thresholds: AlertThresholds::new(
                        project.alert_thresholds.iter().copied(),
                    ),
                },
                RecordOwner::Config,
            )
        })
    }
}
