use std::sync::Arc;

use super::{Month, Operation};

/// A usage alert: a project's use of an operation reached a threshold this month.
///
/// Each fires once per project, operation, threshold and month. At 100% it is the
/// `quota.exhausted` event; below, `quota.threshold`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaAlert {
    /// The project.
    pub project: Arc<str>,
    /// The operation.
    pub operation: Operation,
    /// The month.
    pub month: Month,
    /// The threshold reached, in percent.
    pub threshold: u8,
    /// Units used when it was reached.
    pub used: u64,
    /// The month's limit.
    pub limit: u64,
}

impl QuotaAlert {
    /// The webhook event type: `quota.exhausted` at 100%, `quota.threshold` below.
    pub fn event_type(&self) -> &'static str {
        if self.threshold >= 100 {
            "quota.exhausted"
        } else {
            "quota.threshold"
        }
    }
}

/// Where alerts go: called on the request that crossed the threshold, so it must not block;
/// hand slow work (a webhook, an e-mail) to a queue.
pub type AlertSink = Arc<dyn Fn(&QuotaAlert) + Send + Sync>;
