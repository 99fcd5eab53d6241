// `health` wraps `scope` in the contract's order; placing it after `scope` does not compile.
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::scope::ProjectScopeLayer;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(ProjectScopeLayer::new())
        .stage(HealthRouteLayer::new());
}
