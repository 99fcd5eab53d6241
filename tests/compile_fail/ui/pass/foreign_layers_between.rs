// The user's own tower layers may stand between stages, before the first and after the last.
use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::scope::ProjectScopeLayer;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

fn main() {
    let _layer = PipelineBuilder::new()
        .layer(TraceLayer::new_for_http())
        .stage(HealthRouteLayer::new())
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(5)))
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production))
        .layer(CorsLayer::permissive())
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(5),
        ))
        .into_layer();
}
