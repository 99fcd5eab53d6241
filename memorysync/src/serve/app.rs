//! What the public listener serves: the pipeline, built from the config, around a backend.

use std::sync::Arc;

use axum::Router;
use memorysync_pipeline::admin::AdminTokens;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::pipeline::PipelineBuilder;
use tower_http::trace::TraceLayer;

use super::body_limit::Bodies;
use crate::proxy::Upstream;

/// The service behind the pipeline.
#[derive(Debug)]
pub(crate) enum Backend {
    /// The demo memory API (`crate::demo`), memories kept in this process.
    Demo,
    /// `--upstream URL`: any HTTP service, reached through the reverse proxy.
    Upstream(Box<Upstream>),
}

impl Backend {
    /// For the startup line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Backend::Demo => "demo memory API behind the full pipeline".to_owned(),
            Backend::Upstream(upstream) => {
                format!("full pipeline in front of {}", upstream.describe())
            }
        }
    }

    /// How the public listener treats request bodies: the demo API reads them whole, so the
    /// listener holds them to `max_body_bytes` first; the proxy streams them and holds them to
    /// the limit itself, so the listener refuses only a declared length over it.
    pub(crate) fn bodies(&self) -> Bodies {
        match self {
            Backend::Demo => Bodies::Read,
            Backend::Upstream(_) => Bodies::Streamed,
        }
    }

    /// The backend as the pipeline's inner service.
    fn into_router(self) -> Router {
        match self {
            Backend::Demo => crate::demo::router(),
            Backend::Upstream(upstream) => Router::new().fallback_service(*upstream),
        }
    }
}

/// The public listener's service and the deployment behind it.
pub(crate) struct App {
    /// Every path, `/health` included, goes through the pipeline.
    pub(crate) public: Router,
    /// How the public listener treats request bodies, as the backend needs.
    pub(crate) bodies: Bodies,
    /// The running pipeline's stores and background work, to shut down at the end; shared
    /// with the admin API.
    pub(crate) deployment: Arc<Deployment>,
    /// The config's `[[admin_tokens]]`, replaced on SIGHUP.
    pub(crate) admin_tokens: AdminTokens,
}

/// Starts the deployment `config` describes and puts its stages around `backend`.
pub(crate) async fn build(
    config: &Config,
    backend: Backend,
    options: DeploymentOptions,
) -> Result<App, String> {
    let deployment = Deployment::start(config, options)
        .await
        .map_err(|e| e.to_string())?;
    // The stages one by one, to trace every request that passed the health route.
    let stages = deployment.stages();
    let pipeline = PipelineBuilder::new()
        .stage(stages.health)
        .layer(TraceLayer::new_for_http())
        .stage(stages.audit)
        .stage(stages.auth)
        .stage(stages.scope)
        .stage(stages.limit)
        .stage(stages.quota)
        .into_layer();
    // Around the finished backend, so that every path, routed or not, meets the stages. The
    // listener puts the peer's `ClientAddr` into each request.
    let bodies = backend.bodies();
    let public = Router::new().fallback_service(pipeline.around(backend.into_router()));
    Ok(App {
        public,
        bodies,
        deployment: Arc::new(deployment),
        admin_tokens: AdminTokens::new(config.admin_tokens.clone()),
    })
}

/// [`build`] of the demo API for a test: this instance name, clock and alert sink.
#[cfg(test)]
pub(crate) async fn build_demo(
    config: &Config,
    instance: &str,
    clock: impl memorysync_pipeline::clock::Clock,
    on_alert: impl Fn(&memorysync_pipeline::quota::QuotaAlert) + Send + Sync + 'static,
) -> Result<App, String> {
    let options = DeploymentOptions::new()
        .with_instance(instance)
        .with_clock(clock)
        .with_alerts(on_alert);
    build(config, Backend::Demo, options).await
}
