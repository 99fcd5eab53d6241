// `health` wraps `auth` in the contract's order; placing it after `auth` does not compile.
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production))
        .stage(HealthRouteLayer::new());
}
