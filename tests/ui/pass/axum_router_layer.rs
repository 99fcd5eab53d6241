// The built pipeline goes into `axum::Router::layer` and the router still serves.
use axum::Router;
use axum::routing::get;
use memorysync_pipeline::audit::AuditRecordLayer;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;
use tower_http::trace::TraceLayer;

fn main() {
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new())
        .stage(AuditRecordLayer::new())
        .layer(TraceLayer::new_for_http())
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new()))
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .into_layer();
    let app: Router = Router::new().route("/v1/memories", get(|| async { "[]" })).layer(pipeline);
    let _service = app.into_make_service();
}
