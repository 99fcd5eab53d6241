//! The memory API and the pipeline in front of it, built from a config.

use axum::{Extension, Router};
use memorysync_pipeline::audit::{
    AuditLog, AuditLogConfig, AuditRecordLayer, JsonLinesSink, MemoryAuditSink,
};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::Clock;
use memorysync_pipeline::config::{Config, StoreBackend};
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::KeyStore;
use memorysync_pipeline::limit::RateLimitStore;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::QuotaStore;
use memorysync_pipeline::quota::{QuotaAlert, QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::{ProjectScopeLayer, Scope};
use memorysync_pipeline::tombstone::MemoryTombstones;
use memorysync_pipeline::{Environment, TrustedProxies};
use tower_http::trace::TraceLayer;

use crate::memories;
use crate::shared::Redis;
use crate::tombstones::Tombstones;
use crate::webhooks::{Queue, ServerWebhooks};

pub(crate) struct App {
    pub(crate) router: Router,
    /// The audit log, to flush on shutdown (none in bare mode).
    pub(crate) audit: Option<AuditLog>,
    /// The webhook worker, to drain on shutdown (when the config has webhooks).
    pub(crate) webhooks: Option<ServerWebhooks>,
}

/// The memory API, behind the full pipeline unless `bare`; quota alerts go to `on_alert`.
/// `instance` names this process among those sharing a Redis (its audit stream).
pub(crate) async fn build(
    config: &Config,
    bare: bool,
    instance: &str,
    clock: impl Clock + Clone,
    on_alert: impl Fn(&QuotaAlert) + Send + Sync + 'static,
) -> Result<App, String> {
    let from_env = |name: &str| std::env::var(name).ok();
    build_with_secrets(config, bare, instance, clock, on_alert, &from_env).await
}

/// [`build`], reading webhook secrets through `secret_of` instead of the environment.
pub(crate) async fn build_with_secrets(
    config: &Config,
    bare: bool,
    instance: &str,
    clock: impl Clock + Clone,
    on_alert: impl Fn(&QuotaAlert) + Send + Sync + 'static,
    secret_of: &dyn Fn(&str) -> Option<String>,
) -> Result<App, String> {
    let api = memories::router();
    if bare {
        let scope = Scope::new("proj_demo", Environment::Development);
        let tombstones = Tombstones::Memory(MemoryTombstones::new(config.audit.tombstone_period));
        let router = api
            .layer(Extension(scope))
            .layer(Extension(tombstones))
            .layer(axum::middleware::map_request(crate::record_client_addr));
        return Ok(App {
            router,
            audit: None,
            webhooks: None,
        });
    }
    let redis = match config.store.backend {
        StoreBackend::Memory => None,
        StoreBackend::Redis => Some(Redis::connect(config).await?),
    };
    let (tombstones, audit, queue) = match &redis {
        None => {
            let tombstones = MemoryTombstones::new(config.audit.tombstone_period);
            let settings =
                audit_settings(config, clock.clone()).with_tombstones(tombstones.clone());
            let audit = match &config.audit.dir {
                Some(dir) => AuditLog::start(json_lines(dir)?, settings),
                None => AuditLog::start(MemoryAuditSink::new(), settings),
            };
            (Tombstones::Memory(tombstones), audit, Queue::Memory)
        }
        // Redis keeps tombstones by TTL, so nothing purges them here.
        Some(redis) => {
            let settings = audit_settings(config, clock.clone());
            let audit = match &config.audit.dir {
                Some(dir) => AuditLog::start(json_lines(dir)?, settings),
                None => AuditLog::start(redis.audit_sink(instance).await?, settings),
            };
            (redis.tombstones(), audit, redis.webhook_queue())
        }
    };
    let audit = audit.map_err(|e| format!("audit log: {e}"))?;
    let webhooks = crate::webhooks::start(config, queue, secret_of)?;
    let mut health = config
        .health_layer()
        .with_clock(clock.clone())
        .with_check(audit.health_check());
    if let Some(webhooks) = &webhooks {
        health = webhooks.checked_by(health);
    }
    // Alerts go to the caller's sink, and as webhook events when webhooks are configured.
    let publish = webhooks.as_ref().map(ServerWebhooks::alert_sink);
    let alerts = move |alert: &QuotaAlert| {
        on_alert(alert);
        if let Some(publish) = &publish {
            publish(alert);
        }
    };
    let plans = QuotaPlans::from_config(config);
    let stages = Stages {
        config,
        clock,
        audit: audit.clone(),
        health,
        tombstones,
        alerts,
    };
    let protected = match &redis {
        None => {
            let keys = config
                .memory_key_store(stages.clock.now())
                .await
                .map_err(|e| e.to_string())?;
            stages.protect(
                api,
                keys,
                SlidingWindowRateLimitLayer::new(),
                QuotaDegradeLayer::new(plans),
            )
        }
        Some(redis) => redis.protect(stages, api, plans).await?,
    };
    // The pipeline reads the peer address from `ClientAddr`; axum records it as `ConnectInfo`.
    let router = protected.layer(axum::middleware::map_request(crate::record_client_addr));
    Ok(App {
        router,
        audit: Some(audit),
        webhooks,
    })
}

/// Everything the stages need besides the three stores that differ by backend.
pub(crate) struct Stages<'c, C, A> {
    pub(crate) config: &'c Config,
    pub(crate) clock: C,
    pub(crate) audit: AuditLog,
    pub(crate) health: HealthRouteLayer,
    pub(crate) tombstones: Tombstones,
    pub(crate) alerts: A,
}

impl<C, A> Stages<'_, C, A>
where
    C: Clock + Clone,
    A: Fn(&QuotaAlert) + Send + Sync + 'static,
{
    /// `api` behind the six stages, with these key, rate-limit and quota stores.
    pub(crate) fn protect<K, L, Q>(
        self,
        api: Router,
        keys: K,
        limits: SlidingWindowRateLimitLayer<L>,
        quotas: QuotaDegradeLayer<Q>,
    ) -> Router
    where
        K: KeyStore,
        L: RateLimitStore,
        Q: QuotaStore,
    {
        let proxies = TrustedProxies::new(self.config.health.trusted_proxies.iter().copied());
        let pipeline = PipelineBuilder::new()
            .stage(self.health)
            .layer(TraceLayer::new_for_http())
            .stage(
                AuditRecordLayer::new(self.audit)
                    .with_clock(self.clock.clone())
                    .with_trusted_proxies(proxies)
                    .with_tombstones(self.tombstones),
            )
            .stage(
                ApiKeyAuthLayer::new(keys, self.config.environment).with_clock(self.clock.clone()),
            )
            .stage(ProjectScopeLayer::new())
            .stage(limits.with_clock(self.clock.clone()))
            .stage(
                quotas
                    .with_classifier(self.config.quota_classifier())
                    .with_clock(self.clock)
                    .with_alerts(self.alerts),
            )
            .into_layer();
        // Around the finished API, not `Router::layer`: routes merged into the result later
        // (`/metrics`) stay outside, and every other path, routed or not, meets the stages.
        Router::new().fallback_service(pipeline.around(api))
    }
}

/// The audit log's retention and clock, from the config.
fn audit_settings(config: &Config, clock: impl Clock) -> AuditLogConfig {
    AuditLogConfig::new()
        .with_retention(config.audit.retention)
        .with_clock(clock)
}

/// Daily JSON Lines files under `audit.dir`.
fn json_lines(dir: &std::path::Path) -> Result<JsonLinesSink, String> {
    JsonLinesSink::new(dir).map_err(|e| format!("audit dir {}: {e}", dir.display()))
}
