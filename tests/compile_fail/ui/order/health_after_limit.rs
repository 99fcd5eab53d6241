// `health` wraps `limit` in the contract's order; placing it after `limit` does not compile.
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(HealthRouteLayer::new());
}
