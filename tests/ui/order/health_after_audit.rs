// `health` wraps `audit` in the contract's order; placing it after `audit` does not compile.
use memorysync_pipeline::audit::AuditRecordLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;

fn main() {
    let _ = PipelineBuilder::new()
        .stage(AuditRecordLayer::new())
        .stage(HealthRouteLayer::new());
}
