//! One log line when a stage starts refusing because its store does not answer, and one when
//! it answers again, instead of a line per refused request: an outage under load would
//! otherwise flood the log. Each refusal is still counted, as the stage's `store_unavailable`
//! outcome in telemetry.

use std::sync::atomic::{AtomicBool, Ordering};

use super::StoreError;

/// Whether a stage is refusing for want of its store; one per stage, process-wide.
#[derive(Debug)]
pub(crate) struct Refusals {
    store: &'static str,
    refusing: AtomicBool,
}

impl Refusals {
    /// Not refusing; `store` names the store in the two log lines.
    pub(crate) const fn new(store: &'static str) -> Self {
        Refusals {
            store,
            refusing: AtomicBool::new(false),
        }
    }

    /// A request refused because the store failed with `error`: logged if it is the first.
    pub(crate) fn refused(&self, error: &StoreError) {
        if self.refusing.swap(true, Ordering::Relaxed) {
            tracing::debug!(store = self.store, %error, "store unavailable; refusing");
        } else {
            tracing::warn!(
                store = self.store,
                %error,
                "store unavailable; refusing requests until it answers"
            );
        }
    }

    /// The store answered: logged if requests were being refused.
    pub(crate) fn answered(&self) {
        // A load first: the common case, answering while answering, writes nothing.
        if self.refusing.load(Ordering::Relaxed) && self.refusing.swap(false, Ordering::Relaxed) {
            tracing::info!(store = self.store, "store answers again; serving");
        }
    }
}
