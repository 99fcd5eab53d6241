//! The deployment's webhooks: endpoints from `[[webhooks]]` (each scoped to its `projects`, or
//! operator-wide), secrets read through the secret source by the variable names the file gives
//! (several while rotating), retried on `[webhooks_retry] schedule`, delivered by the crate's
//! HTTPS client (feature `webhook-client`).

use super::options::SecretSource;
use super::{DeploymentQueue, DeploymentWebhooks, StartError};
use crate::config::Config;

/// Starts delivery when the config has webhooks; `None` when it has none.
#[cfg(feature = "webhook-client")]
pub(super) fn start(
    config: &Config,
    queue: DeploymentQueue,
    secrets: &SecretSource,
) -> Result<Option<DeploymentWebhooks>, StartError> {
    use crate::webhook::{
        Endpoint, HttpsTransport, RetryPolicy, WebhookSecret, WebhookSettings, Webhooks,
    };

    if config.webhooks.is_empty() {
        return Ok(None);
    }
    let mut endpoints = Vec::with_capacity(config.webhooks.len());
    for hook in &config.webhooks {
        // Every variable named (several while rotating): each delivery is signed with each.
        let mut parsed = Vec::with_capacity(hook.secret_env.len());
        for name in &hook.secret_env {
            // The variable's name may be shown; its value never is.
            let text = secrets(name).ok_or_else(|| {
                StartError::Webhooks(format!("{}: variable {name} is not set", hook.url))
            })?;
            let secret = WebhookSecret::parse(&text)
                .map_err(|e| StartError::Webhooks(format!("{}: {name}: {e}", hook.url)))?;
            parsed.push(secret);
        }
        let mut parsed = parsed.into_iter();
        let first = parsed
            .next()
            .ok_or_else(|| StartError::Webhooks(format!("{}: no secret_env", hook.url)))?;
        let endpoint = parsed.fold(
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
    Webhooks::start(queue, transport, settings)
        .map(Some)
        .map_err(|e| StartError::Webhooks(e.to_string()))
}

/// Without the HTTPS client there is nothing to deliver with: a config that has webhooks is
/// refused rather than started without them.
#[cfg(not(feature = "webhook-client"))]
pub(super) fn start(
    config: &Config,
    _queue: DeploymentQueue,
    _secrets: &SecretSource,
) -> Result<Option<DeploymentWebhooks>, StartError> {
    if config.webhooks.is_empty() {
        Ok(None)
    } else {
        Err(StartError::Unsupported(
            "the config has [[webhooks]]: build with the `webhook-client` feature to deliver them"
                .into(),
        ))
    }
}
