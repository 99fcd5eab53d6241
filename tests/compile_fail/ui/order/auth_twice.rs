// A stage given twice, even with a foreign layer between the two.
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production))
        .layer(tower::layer::util::Identity::new())
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production));
}
