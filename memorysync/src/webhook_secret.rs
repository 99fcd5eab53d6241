//! `memorysync webhook-secret`: a new `whsec_` secret for a webhook endpoint.

use memorysync_pipeline::webhook::WebhookSecret;

/// Prints a new secret. It goes into the environment variable an endpoint's `secret_env` names,
/// never into the config file.
#[derive(Debug, clap::Args)]
pub(crate) struct WebhookSecretArgs {}

pub(crate) fn run(_args: WebhookSecretArgs) -> Result<(), String> {
    let secret =
        WebhookSecret::generate().map_err(|e| format!("the system's random source failed: {e}"))?;
    println!("{}", secret.expose());
    Ok(())
}
