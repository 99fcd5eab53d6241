// `auth` wraps `quota` in the contract's order; placing it after `quota` does not compile.
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};

fn main() {
    let _ = PipelineBuilder::new()
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production));
}
