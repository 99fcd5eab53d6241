//! The server's webhooks: endpoints from `[[webhooks]]`, secrets from the environment variables
//! the file names, delivered by the crate's HTTPS client (feature `webhook-client`).

use memorysync_pipeline::config::Config;
use memorysync_pipeline::webhook::Webhooks;
#[cfg(feature = "webhook-client")]
use memorysync_pipeline::webhook::{
    Endpoint, HttpsTransport, MemoryWebhookQueue, WebhookSecret, WebhookSettings,
};

/// Starts delivery when the config has webhooks; `None` when it has none. `secret_of` reads an
/// environment variable (the server passes `std::env::var`; tests pass their own).
#[cfg(feature = "webhook-client")]
pub(crate) fn start(
    config: &Config,
    secret_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Webhooks>, String> {
    if config.webhooks.is_empty() {
        return Ok(None);
    }
    let mut endpoints = Vec::new();
    for hook in &config.webhooks {
        // The variable's name may be shown; its value never is.
        let text = secret_of(&hook.secret_env).ok_or_else(|| {
            format!(
                "webhook {}: environment variable {} is not set",
                hook.url, hook.secret_env
            )
        })?;
        let secret = WebhookSecret::parse(&text)
            .map_err(|e| format!("webhook {}: {}: {e}", hook.url, hook.secret_env))?;
        endpoints.push(Endpoint::new(hook.url.clone(), secret, hook.events.clone()));
    }
    let settings = WebhookSettings::new(endpoints, config.environment);
    let transport = HttpsTransport::new(config.environment);
    Webhooks::start(MemoryWebhookQueue::new(), transport, settings)
        .map(Some)
        .map_err(|e| format!("webhooks: {e}"))
}

/// Without the HTTPS client there is nothing to deliver with: refuse a config that has webhooks.
#[cfg(not(feature = "webhook-client"))]
pub(crate) fn start(
    config: &Config,
    _secret_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Webhooks>, String> {
    if config.webhooks.is_empty() {
        Ok(None)
    } else {
        Err(
            "the config has [[webhooks]]: run with `--features webhook-client` to deliver them"
                .into(),
        )
    }
}
