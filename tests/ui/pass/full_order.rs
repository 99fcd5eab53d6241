// All six stages in the contract's order.
use memorysync_pipeline::audit::AuditRecordLayer;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;

fn main() {
    let _layer = PipelineBuilder::new()
        .stage(HealthRouteLayer::new())
        .stage(AuditRecordLayer::new())
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new()))
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .into_layer();
}
