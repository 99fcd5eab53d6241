// `health` wraps `audit` in the contract's order; placing it after `audit` does not compile.
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;

/// The audit stage on an in-memory sink. Its writer task needs a tokio runtime to be entered.
fn audit_layer() -> AuditRecordLayer {
    let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).expect("a memory sink");
    AuditRecordLayer::new(log)
}

fn main() {
    let _ = PipelineBuilder::new()
        .stage(audit_layer())
        .stage(HealthRouteLayer::new());
}
