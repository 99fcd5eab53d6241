//! Without the feature `metrics`: the same functions as `emit.rs`, empty, so the stages call
//! them unconditionally and the compiler removes the calls.

use super::Stage;
use std::sync::Arc;

use crate::rejection::RejectionCode;

#[inline(always)]
pub(crate) fn admitted(_stage: Stage) {}

#[inline(always)]
pub(crate) fn rejected(_stage: Stage, _code: RejectionCode) {}

#[inline(always)]
pub(crate) fn probe_answered() {}

#[inline(always)]
pub(crate) fn unmetered() {}

#[inline(always)]
pub(crate) fn recorded(_outcome: &'static str) {}

#[inline(always)]
pub(crate) fn quota_reserved(
    _project: &Arc<str>,
    _operation: &'static str,
    _used: u64,
    _limit: u64,
) {
}

#[inline(always)]
pub(crate) fn quota_degraded(_project: &Arc<str>, _operation: &'static str, _limit: u64) {}

#[inline(always)]
pub(crate) fn audit_queue_depth(_depth: impl FnOnce() -> usize) {}

#[inline(always)]
pub(crate) fn audit_written(_events: u64) {}

#[inline(always)]
pub(crate) fn audit_dropped(_events: u64) {}

#[inline(always)]
pub(crate) fn audit_waited() {}

#[inline(always)]
pub(crate) fn webhook_attempt(_outcome: &'static str) {}

#[inline(always)]
pub(crate) fn webhook_retry() {}

#[inline(always)]
pub(crate) fn webhook_dead_letter() {}

#[inline(always)]
pub(crate) fn webhook_backlog(_deliveries: u64) {}

#[inline(always)]
pub(crate) fn webhook_refused() {}

#[inline(always)]
pub(crate) fn store_unavailable(_store: &'static str, _unavailable: bool) {}

#[inline(always)]
pub(crate) fn quota_unplanned() {}
