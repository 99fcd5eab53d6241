// Any stage may be left out; the rest keep their relative order.
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;

fn main() {
    let _empty = PipelineBuilder::new().into_layer();
    let _health_only = PipelineBuilder::new().stage(HealthRouteLayer::new()).into_layer();
    let _quota_only = PipelineBuilder::new().stage(QuotaDegradeLayer::new(QuotaPlans::new())).into_layer();
    let _no_health_no_limit = PipelineBuilder::new()
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production))
        .stage(ProjectScopeLayer::new())
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .into_layer();
    let _ends_skipped = PipelineBuilder::new()
        .stage(HealthRouteLayer::new())
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .into_layer();
}
