//! Webhook endpoints, the attempt log and the dead letters on Redis: the stores' contracts
//! under a test prefix (`stores`), and two deployments on one Redis, one prefix, whose changes
//! are in force on each other within a second (`instances`).

mod instances;
mod stores;

use std::time::{Duration, Instant};

use memorysync_pipeline::clock::ManualClock;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::DeploymentOptions;
use memorysync_pipeline::webhook::endpoints::{NewEndpoint, SecretKey};

use crate::common::hooks::eventually;

pub(super) fn new_endpoint(url: &str) -> NewEndpoint {
    NewEndpoint {
        project: Some("proj_a".into()),
        url: url.to_owned(),
        events: vec!["quota.exhausted".into()],
    }
}

pub(super) fn config(url: &str) -> Config {
    Config::from_toml(&format!(
        "environment = \"development\"\n\
         [store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n\
         [admin]\nsecret_key_env = \"SEAL_KEY\"\n\
         [[projects]]\nid = \"proj_a\"\nadds_per_month = 10\nqueries_per_month = 10\n"
    ))
    .unwrap()
}

pub(super) fn options(instance: &str, key: &SecretKey, clock: &ManualClock) -> DeploymentOptions {
    let key = key.to_base64();
    DeploymentOptions::new()
        .with_instance(instance)
        .with_clock(clock.clone())
        .with_secret_source(move |name: &str| (name == "SEAL_KEY").then(|| key.clone()))
}

/// Waits until `check` holds on the other instance, and says that it took under a second.
pub(super) async fn within_a_second(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    eventually(what, async || check().await).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
}
