//! The admin listener's routes: the admin API under `/admin/v1/` (behind admin tokens) and
//! `GET /metrics` (feature `metrics`, for a scraper, without a token). The public listener never
//! serves them: both name keys, projects and outcomes.

use std::net::SocketAddr;

use axum::Router;
use http::StatusCode;
use memorysync_pipeline::admin::AdminApi;
use memorysync_pipeline::config::Config;

use super::problem::problem;

/// What the admin listener serves, for the startup line.
pub(crate) const SERVES: &str = if cfg!(feature = "metrics") {
    "the admin API under /admin/v1/, the console under /admin/, GET /metrics"
} else {
    "the admin API under /admin/v1/, the console under /admin/"
};

/// The metrics routes. Installs the process's metrics recorder: call it once, before the
/// deployment starts, so that it counts from the first event.
pub(crate) fn metrics_routes() -> Result<Router, String> {
    let routes = Router::new();
    #[cfg(feature = "metrics")]
    let routes = routes.merge(super::metrics::routes(super::metrics::install()?));
    Ok(routes)
}

/// Everything the admin listener serves: `metrics` and the admin API.
pub(crate) fn router(metrics: Router, api: &AdminApi) -> Router {
    answering_the_rest(metrics.merge(api.router()))
}

/// Refuses an admin listener that would carry admin tokens in clear across a network: on an
/// address other than loopback it needs `[server.tls]`, or `[server] allow_plaintext_admin`.
pub(crate) fn check_listener(addr: SocketAddr, config: &Config) -> Result<(), String> {
    if addr.ip().is_loopback() || config.server.tls.is_some() || config.server.allow_plaintext_admin
    {
        return Ok(());
    }
    Err(format!(
        "--admin-listen {addr}: admin tokens would cross the network in clear; set [server.tls], \
         listen on loopback, or set [server] allow_plaintext_admin = true for a network that is \
         encrypted otherwise"
    ))
}

/// `routes`, with every other path 404 and every other method 405, as problems.
pub(crate) fn answering_the_rest(routes: Router) -> Router {
    routes
        .fallback(|| async {
            problem(
                StatusCode::NOT_FOUND,
                "not_found",
                "the admin listener serves /admin/v1/, /admin/ and GET /metrics only",
            )
        })
        .method_not_allowed_fallback(|| async {
            problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the admin listener serves /admin/v1/, /admin/ and GET /metrics only",
            )
        })
}
