// `scope` wraps `limit` in the contract's order; placing it after `limit` does not compile.
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::scope::ProjectScopeLayer;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(ProjectScopeLayer::new());
}
