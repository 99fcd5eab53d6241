//! The projects without a plan seen so far, so that each is logged once, not on every request.

use std::sync::Arc;

use dashmap::DashSet;

use crate::telemetry;

/// How many projects without a plan are remembered; past it, further ones are counted only,
/// so that a stream of made-up project ids cannot grow the set or the log without bound.
const REMEMBERED: usize = 1024;

/// Projects without a plan already logged, shared by the services of one layer.
#[derive(Debug, Default)]
pub(super) struct Unplanned {
    logged: DashSet<Arc<str>>,
}

impl Unplanned {
    /// A request of `project`, which has no plan: counted, and logged the first time.
    pub(super) fn seen(&self, project: &Arc<str>) {
        telemetry::quota_unplanned();
        if self.logged.contains(project) || self.logged.len() >= REMEMBERED {
            return;
        }
        if self.logged.insert(Arc::clone(project)) {
            tracing::warn!(
                project = &**project,
                "no quota plan for the project; unmetered (logged once per project)"
            );
        }
    }
}
