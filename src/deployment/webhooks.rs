//! The deployment's webhooks: the file's endpoints from `[[webhooks]]` (each scoped to its
//! `projects`, or operator-wide), secrets read through the secret source by the variable names
//! the file gives (several while rotating), the endpoints made through the admin API beside
//! them (see [`endpoints`](super::endpoints)), retried on `[webhooks_retry] schedule`, delivered
//! by the crate's HTTPS client (feature `webhook-client`).

use super::options::SecretSource;
use super::{DeploymentAttempts, DeploymentQueue, DeploymentWebhooks, StartError};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::webhook::endpoints::config_endpoint_id;
use crate::webhook::{Endpoint, EndpointSet, WebhookSecret};

/// The file's endpoints, each with its secrets and its id derived from its position and URL.
pub(super) fn file_endpoints(
    config: &Config,
    secrets: &SecretSource,
) -> Result<Vec<Endpoint>, StartError> {
    let mut endpoints = Vec::with_capacity(config.webhooks.len());
    for (position, hook) in config.webhooks.iter().enumerate() {
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
        let id = config_endpoint_id(position, &hook.url.to_string());
        endpoints.push(endpoint.with_projects(hook.projects.clone()).with_id(id));
    }
    Ok(endpoints)
}

/// Starts delivery to the endpoints `set` holds, whether or not the file has any: endpoints
/// made through the admin API may come at any time.
#[cfg(feature = "webhook-client")]
pub(super) fn start(
    config: &Config,
    queue: DeploymentQueue,
    set: EndpointSet,
    attempts: DeploymentAttempts,
    clock: &SharedClock,
) -> Result<Option<DeploymentWebhooks>, StartError> {
    use crate::webhook::{HttpsTransport, RetryPolicy, WebhookSettings, Webhooks};

    let policy = RetryPolicy {
        delays: config.webhooks_retry.schedule.clone(),
        ..RetryPolicy::default()
    };
    let settings = WebhookSettings::live(set, config.environment)
        .with_policy(policy)
        .with_attempt_log(attempts)
        .with_clock(SharedClock::clone(clock));
    let transport = HttpsTransport::new(config.environment);
    Webhooks::start(queue, transport, settings)
        .map(Some)
        .map_err(|e| StartError::Webhooks(e.to_string()))
}

/// Without the HTTPS client there is nothing to deliver with: a config that has webhooks is
/// refused rather than started without them; without any, endpoints can still be managed (an
/// instance built with the client delivers them).
#[cfg(not(feature = "webhook-client"))]
pub(super) fn start(
    config: &Config,
    _queue: DeploymentQueue,
    _set: EndpointSet,
    _attempts: DeploymentAttempts,
    _clock: &SharedClock,
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
