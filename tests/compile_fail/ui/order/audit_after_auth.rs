// `audit` wraps `auth` in the contract's order; placing it after `auth` does not compile.
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::pipeline::PipelineBuilder;

/// The audit stage on an in-memory sink. Its writer task needs a tokio runtime to be entered.
fn audit_layer() -> AuditRecordLayer {
    let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).expect("a memory sink");
    AuditRecordLayer::new(log)
}

fn main() {
    let _ = PipelineBuilder::new()
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production))
        .stage(audit_layer());
}
