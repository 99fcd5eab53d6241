// `audit` wraps `quota` in the contract's order; placing it after `quota` does not compile.
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};

/// The audit stage on an in-memory sink. Its writer task needs a tokio runtime to be entered.
fn audit_layer() -> AuditRecordLayer {
    let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).expect("a memory sink");
    AuditRecordLayer::new(log)
}

fn main() {
    let _ = PipelineBuilder::new()
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .stage(audit_layer());
}
