// `auth` wraps `limit` in the contract's order; placing it after `limit` does not compile.
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production));
}
