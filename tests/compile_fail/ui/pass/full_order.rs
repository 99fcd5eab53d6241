// All six stages in the contract's order.
use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::MemoryKeyStore;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;

/// The audit stage on an in-memory sink. Its writer task needs a tokio runtime to be entered.
fn audit_layer() -> AuditRecordLayer {
    let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).expect("a memory sink");
    AuditRecordLayer::new(log)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let _entered = runtime.enter();
    let _layer = PipelineBuilder::new()
        .stage(HealthRouteLayer::new())
        .stage(audit_layer())
        .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production))
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .into_layer();
}
