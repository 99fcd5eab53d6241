//! Webhook endpoints managed at run time, the per-attempt delivery log and the dead letters, on
//! the memory and the embedded backends: endpoints created
//! through the API and delivered with the secret shown once (with no `[[webhooks]]` in the
//! file), the file's endpoints changed only in the file, a 410 kept as the endpoint's state,
//! secret rotation with an overlap on a manual clock, typed errors for bad input and a missing
//! key, secrets never in `Debug` nor in clear on disk, and a wrong key or a tampered sealed
//! secret met without a panic. The same on Redis, with two instances, is in
//! `tests/redis_store/webhook_endpoints.rs`.
//!
//! Deliveries go to a real HTTP receiver on loopback (`tests/common/hooks.rs`); tests wait for
//! its arrivals, and poll with a deadline only for bookkeeping no event announces.

mod attempts;
mod dead_letters;
#[cfg(feature = "embedded")]
mod embedded;
mod errors;
mod memory;
mod rotation;

use memorysync_pipeline::clock::ManualClock;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::webhook::WebhookSecret;
use memorysync_pipeline::webhook::endpoints::{NewEndpoint, SecretKey};

pub(super) use crate::common::T0;
pub(super) use crate::common::hooks::{Hook, eventually};

/// The variable holding the sealing key in these tests.
const KEY_VAR: &str = "SEAL_KEY";
/// The variable holding the file endpoint's secret.
const HOOK_VAR: &str = "HOOK_SECRET";

/// A config on `store` (a `[store]` table's body, empty for memory), with `[admin]` naming the
/// key when `admin`, and one `[[webhooks]]` entry per URL of `file`.
fn config(store: &str, admin: bool, file: &[String]) -> Config {
    let mut text = String::from("environment = \"development\"\n");
    if !store.is_empty() {
        text.push_str(&format!("[store]\n{store}\n"));
    }
    if admin {
        text.push_str(&format!("[admin]\nsecret_key_env = \"{KEY_VAR}\"\n"));
    }
    text.push_str("[[projects]]\nid = \"proj_a\"\nadds_per_month = 10\nqueries_per_month = 10\n");
    text.push_str("[[projects]]\nid = \"proj_b\"\nadds_per_month = 10\nqueries_per_month = 10\n");
    for url in file {
        text.push_str(&format!(
            "[[webhooks]]\nurl = \"{url}\"\nsecret_env = \"{HOOK_VAR}\"\nevents = [\"quota.exhausted\", \"webhook.test\"]\n"
        ));
    }
    Config::from_toml(&text).unwrap()
}

/// Options reading the key and the file endpoint's secret from these values, on `clock`.
fn options(
    key: Option<&SecretKey>,
    file: &WebhookSecret,
    clock: &ManualClock,
) -> DeploymentOptions {
    let key = key.map(SecretKey::to_base64);
    let file = file.expose();
    DeploymentOptions::new()
        .with_clock(clock.clone())
        .with_secret_source(move |name: &str| match name {
            KEY_VAR => key.clone(),
            HOOK_VAR => Some(file.clone()),
            _ => None,
        })
}

async fn start(config: &Config, options: DeploymentOptions) -> Deployment {
    Deployment::start(config, options).await.unwrap()
}

/// An endpoint of `project` at `url`, taking `quota.exhausted`.
fn new_endpoint(project: Option<&str>, url: &str) -> NewEndpoint {
    NewEndpoint {
        project: project.map(str::to_owned),
        url: url.to_owned(),
        events: vec!["quota.exhausted".into()],
    }
}

/// Publishes `quota.exhausted` for `project`; the message id.
fn publish(deployment: &Deployment, project: &str, n: u64) -> String {
    let hooks = deployment
        .webhooks()
        .expect("the worker runs without [[webhooks]]");
    hooks
        .publish_for(project, "quota.exhausted", serde_json::json!({ "n": n }))
        .to_string()
}

/// Waits until the dead letters hold `n`, and returns their reasons.
async fn dead_letters(deployment: &Deployment, n: usize) -> Vec<String> {
    let hooks = deployment.webhooks().unwrap();
    eventually(&format!("{n} dead letters"), async || {
        hooks.dead_letters().await.unwrap().len() == n
    })
    .await;
    let letters = hooks.dead_letters().await.unwrap();
    letters.into_iter().map(|l| l.reason).collect()
}
