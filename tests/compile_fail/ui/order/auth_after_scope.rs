// `auth` wraps `scope` in the contract's order; placing it after `scope` does not compile.
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::scope::ProjectScopeLayer;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(ProjectScopeLayer::new())
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production));
}
