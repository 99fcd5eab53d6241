// `scope` wraps `quota` in the contract's order; placing it after `quota` does not compile.
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .stage(ProjectScopeLayer::new());
}
