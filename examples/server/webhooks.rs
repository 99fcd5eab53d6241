//! The server's webhooks: endpoints from `[[webhooks]]` (each scoped to its `projects`, or
//! operator-wide), secrets from the environment variables the file names (several while
//! rotating), retried on `[webhooks_retry] schedule`, delivered by the crate's HTTPS client
//! (feature `webhook-client`). The queue
//! is in memory, or in Redis with `store.backend = "redis"`, where an event queued by one
//! instance is delivered by another if the first one dies.

use std::time::Duration;

use memorysync_pipeline::config::Config;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::quota::QuotaAlert;
#[cfg(feature = "redis")]
use memorysync_pipeline::redis_store::RedisWebhookQueue;
use memorysync_pipeline::webhook::{WebhookStats, Webhooks};

/// The running webhook worker, whichever queue it works from.
// Without `webhook-client` no worker starts, so nothing builds one.
#[cfg_attr(not(feature = "webhook-client"), allow(dead_code))]
#[derive(Clone, Debug)]
pub(crate) enum ServerWebhooks {
    Memory(Webhooks),
    #[cfg(feature = "redis")]
    Redis(Webhooks<RedisWebhookQueue>),
}

/// Where queued deliveries wait.
#[cfg_attr(not(feature = "webhook-client"), allow(dead_code))]
pub(crate) enum Queue {
    Memory,
    #[cfg(feature = "redis")]
    Redis(RedisWebhookQueue),
}

impl ServerWebhooks {
    pub(crate) fn stats(&self) -> WebhookStats {
        match self {
            ServerWebhooks::Memory(hooks) => hooks.stats(),
            #[cfg(feature = "redis")]
            ServerWebhooks::Redis(hooks) => hooks.stats(),
        }
    }

    /// Lets deliveries in flight finish within `grace`; the rest stay queued.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        match self {
            ServerWebhooks::Memory(hooks) => hooks.shutdown(grace).await,
            #[cfg(feature = "redis")]
            ServerWebhooks::Redis(hooks) => hooks.shutdown(grace).await,
        }
    }

    /// `health` with the `webhooks` check added.
    pub(crate) fn checked_by(&self, health: HealthRouteLayer) -> HealthRouteLayer {
        match self {
            ServerWebhooks::Memory(hooks) => health.with_check(hooks.health_check()),
            #[cfg(feature = "redis")]
            ServerWebhooks::Redis(hooks) => health.with_check(hooks.health_check()),
        }
    }

    /// Publishes each quota alert as a webhook event.
    pub(crate) fn alert_sink(&self) -> Box<dyn Fn(&QuotaAlert) + Send + Sync> {
        match self {
            ServerWebhooks::Memory(hooks) => Box::new(hooks.quota_alert_sink()),
            #[cfg(feature = "redis")]
            ServerWebhooks::Redis(hooks) => Box::new(hooks.quota_alert_sink()),
        }
    }
}

/// Starts delivery when the config has webhooks; `None` when it has none. `secret_of` reads an
/// environment variable (the server passes `std::env::var`; tests pass their own).
#[cfg(feature = "webhook-client")]
pub(crate) fn start(
    config: &Config,
    queue: Queue,
    secret_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ServerWebhooks>, String> {
    use memorysync_pipeline::webhook::{
        Endpoint, HttpsTransport, MemoryWebhookQueue, RetryPolicy, WebhookSecret, WebhookSettings,
    };

    if config.webhooks.is_empty() {
        return Ok(None);
    }
    let mut endpoints = Vec::new();
    for hook in &config.webhooks {
        // Every variable named (several while rotating): each delivery is signed with each.
        let mut secrets = Vec::with_capacity(hook.secret_env.len());
        for name in &hook.secret_env {
            // The variable's name may be shown; its value never is.
            let text = secret_of(name).ok_or_else(|| {
                format!(
                    "webhook {}: environment variable {name} is not set",
                    hook.url
                )
            })?;
            let secret = WebhookSecret::parse(&text)
                .map_err(|e| format!("webhook {}: {name}: {e}", hook.url))?;
            secrets.push(secret);
        }
        let mut secrets = secrets.into_iter();
        let first = secrets
            .next()
            .ok_or_else(|| format!("webhook {}: no secret_env", hook.url))?;
        let endpoint = secrets.fold(
            Endpoint::new(hook.url.clone(), first, hook.events.clone()),
            Endpoint::with_secret,
        );
        endpoints.push(endpoint.with_projects(hook.projects.clone()));
    }
    let policy = RetryPolicy {
        delays: config.webhooks_retry.schedule.clone(),
        ..RetryPolicy::default()
    };
    let settings = WebhookSettings::new(endpoints, config.environment).with_policy(policy);
    let transport = HttpsTransport::new(config.environment);
    let started = match queue {
        Queue::Memory => Webhooks::start(MemoryWebhookQueue::new(), transport, settings)
            .map(ServerWebhooks::Memory),
        #[cfg(feature = "redis")]
        Queue::Redis(queue) => {
            Webhooks::start(queue, transport, settings).map(ServerWebhooks::Redis)
        }
    };
    started.map(Some).map_err(|e| format!("webhooks: {e}"))
}

/// Without the HTTPS client there is nothing to deliver with: refuse a config that has webhooks.
#[cfg(not(feature = "webhook-client"))]
pub(crate) fn start(
    config: &Config,
    _queue: Queue,
    _secret_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ServerWebhooks>, String> {
    if config.webhooks.is_empty() {
        Ok(None)
    } else {
        Err(
            "the config has [[webhooks]]: run with `--features webhook-client` to deliver them"
                .into(),
        )
    }
}
