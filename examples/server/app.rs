//! The memory API and the pipeline in front of it, built from a config.

use axum::{Extension, Router};
use memorysync_pipeline::Environment;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, DeploymentTombstones};
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::scope::Scope;
use memorysync_pipeline::tombstone::MemoryTombstones;

use crate::memories;

/// What stands in front of the memory API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The six stages of the config's deployment.
    Full,
    /// Only the deployment's `ApiKeyAuth`, `ProjectScope` and `SlidingWindowRateLimit`: what a
    /// hand-assembled auth and rate-limit stack does, for comparing like with like.
    AuthScopeLimit,
    /// No pipeline at all: every request scoped to `proj_demo` in development.
    Bare,
}

impl Mode {
    /// The value of `--stages`: `all`, or `auth,scope,limit`.
    pub(crate) fn from_stages(list: &str) -> Result<Mode, String> {
        let names: Vec<&str> = list.split(',').map(str::trim).collect();
        match names.as_slice() {
            ["all"] => Ok(Mode::Full),
            ["auth", "scope", "limit"] => Ok(Mode::AuthScopeLimit),
            _ => Err(format!(
                "--stages {list:?}: the example serves \"all\" or \"auth,scope,limit\""
            )),
        }
    }

    /// How the server announces itself.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Mode::Full => "full pipeline",
            Mode::AuthScopeLimit => "auth, scope and rate limit only",
            Mode::Bare => "bare, no pipeline",
        }
    }
}

pub(crate) struct App {
    pub(crate) router: Router,
    /// The running pipeline, to shut down at the end (none in bare mode).
    pub(crate) deployment: Option<Deployment>,
}

/// The memory API behind what `mode` says; quota alerts go to `on_alert`. `instance` names
/// this process's audit chain.
#[cfg(test)]
pub(crate) async fn build(
    config: &Config,
    mode: Mode,
    instance: &str,
    clock: impl memorysync_pipeline::clock::Clock,
    on_alert: impl Fn(&memorysync_pipeline::quota::QuotaAlert) + Send + Sync + 'static,
) -> Result<App, String> {
    let options = DeploymentOptions::new()
        .with_instance(instance)
        .with_clock(clock)
        .with_alerts(on_alert);
    build_with(config, mode, options).await
}

/// [`build`] with the options given: a test's secret source, say.
pub(crate) async fn build_with(
    config: &Config,
    mode: Mode,
    options: DeploymentOptions,
) -> Result<App, String> {
    let api = memories::router();
    if mode == Mode::Bare {
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
    // the stages (a route merged into the result later would stay outside, on purpose).
    let pipeline = if mode == Mode::AuthScopeLimit {
        let stages = deployment.stages();
        // The audit stage is what hands the handlers the tombstones; without it, this does.
        let api = api.layer(Extension(deployment.tombstones().clone()));
        let layer = PipelineBuilder::new()
            .stage(stages.auth)
            .stage(stages.scope)
            .stage(stages.limit)
            .into_layer();
        Router::new().fallback_service(layer.around(api))
    } else {
        Router::new().fallback_service(deployment.layer().around(api))
    };
    // The pipeline reads the peer address from `ClientAddr`; axum records it as `ConnectInfo`.
    let router = pipeline.layer(axum::middleware::map_request(crate::record_client_addr));
    Ok(App {
        router,
        deployment: Some(deployment),
    })
}
