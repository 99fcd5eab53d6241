//! The admin listener's routes: `GET /metrics` (feature `metrics`) and nothing else for now.
//! The public listener never serves them: `/metrics` names projects and key outcomes, so only
//! the scraper should reach it, on an address of its own.

use axum::Router;
use http::StatusCode;

use super::problem::problem;

/// What the admin listener serves, for the startup line.
pub(crate) const SERVES: &str = if cfg!(feature = "metrics") {
    "GET /metrics"
} else {
    "nothing yet: built without the metrics feature"
};

/// The admin routes. Installs the process's metrics recorder: call it once.
pub(crate) fn router() -> Result<Router, String> {
    let routes = Router::new();
    #[cfg(feature = "metrics")]
    let routes = routes.merge(super::metrics::routes(super::metrics::install()?));
    Ok(answering_the_rest(routes))
}

/// `routes`, with every other path 404 and every other method 405, as problems.
pub(crate) fn answering_the_rest(routes: Router) -> Router {
    routes
        .fallback(|| async {
            problem(
                StatusCode::NOT_FOUND,
                "not_found",
                "the admin listener serves GET /metrics only",
            )
        })
        .method_not_allowed_fallback(|| async {
            problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the admin listener serves GET /metrics only",
            )
        })
}
