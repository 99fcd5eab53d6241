//! The memory API and the pipeline in front of it, built from a config.

use axum::{Extension, Router};
use memorysync_pipeline::Environment;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, DeploymentTombstones};
use memorysync_pipeline::scope::Scope;
use memorysync_pipeline::tombstone::MemoryTombstones;

use crate::memories;

pub(crate) struct App {
    pub(crate) router: Router,
    /// The running pipeline, to shut down at the end (none in bare mode).
    pub(crate) deployment: Option<Deployment>,
}

/// The memory API, behind the full pipeline unless `bare`; quota alerts go to `on_alert`.
/// `instance` names this process's audit chain.
#[cfg(test)]
pub(crate) async fn build(
    config: &Config,
    bare: bool,
    instance: &str,
    clock: impl memorysync_pipeline::clock::Clock,
    on_alert: impl Fn(&memorysync_pipeline::quota::QuotaAlert) + Send + Sync + 'static,
) -> Result<App, String> {
    let options = DeploymentOptions::new()
        .with_instance(instance)
        .with_clock(clock)
        .with_alerts(on_alert);
    build_with(config, bare, options).await
}

/// [`build`] with the options given: a test's secret source, say.
pub(crate) async fn build_with(
    config: &Config,
    bare: bool,
    options: DeploymentOptions,
) -> Result<App, String> {
    let api = memories::router();
    if bare {
        let scope = Scope::new("proj_demo", Environment::Development);
        let tombstones =
            DeploymentTombstones::Memory(MemoryTombstones::new(config.audit.tombstone_period));
        let router = api
            .layer(Extension(scope))
            .layer(Extension(tombstones))
            .layer(axum::middleware::map_request(crate::record_client_addr));
        return Ok(App {
            router,
            deployment: None,
        });
    }
    let deployment = Deployment::start(config, options)
        .await
        .map_err(|e| e.to_string())?;
    // Around the finished API, not `Router::layer`, so that every path, routed or not, meets
    // the stages (a route merged into the result later would stay outside, on purpose). The
    // pipeline reads the peer address from `ClientAddr`; axum records it as `ConnectInfo`.
    let router = Router::new()
        .fallback_service(deployment.layer().around(api))
        .layer(axum::middleware::map_request(crate::record_client_addr));
    Ok(App {
        router,
        deployment: Some(deployment),
    })
}
