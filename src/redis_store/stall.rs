//! Whether a connection's Redis has stopped answering, shared by every store on it.
//!
//! Each stage has a breaker of its own (in [`WithFallback`](crate::store::WithFallback)), but
//! the stages of one request ask the same Redis one after the other: without a shared note,
//! a hung Redis costs each of them a full call timeout. The first call to time out (or to find
//! the connection broken) marks the connection stalled; from then on its calls fail at once,
//! and one `PING` per probe interval, in the background, finds out when Redis is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::store::StoreError;
use crate::store::breaker::PROBE_EVERY;

/// The stall note of one connection; clones of the connection share it.
#[derive(Debug, Default)]
pub(super) struct Stall {
    stalled: AtomicBool,
}

impl Stall {
    /// Whether calls should fail at once.
    pub(super) fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Acquire)
    }

    /// The error of a call not sent because the connection is known to be stalled.
    pub(super) fn refusal() -> StoreError {
        StoreError::known_outage("redis is not answering; probing it")
    }

    /// Notes a timeout or a broken connection. On the first, `probe` (a `PING` that bypasses
    /// the note) starts running once per probe interval in the background until it succeeds.
    /// Without a tokio runtime there is nothing to probe in, so the connection is not marked.
    pub(super) fn stalled<P, F>(self: &Arc<Self>, probe: P)
    where
        P: Fn() -> F + Send + 'static,
        F: Future<Output = bool> + Send,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.stalled.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("redis is not answering; its calls fail at once until a probe answers");
        let stall = Arc::clone(self);
        runtime.spawn(async move {
            loop {
                let next = tokio::time::Instant::now() + PROBE_EVERY;
                // Every connection but this task's own is gone: nobody is waiting.
                if Arc::strong_count(&stall) == 1 || probe().await {
                    stall.recovered();
                    return;
                }
                tokio::time::sleep_until(next).await;
            }
        });
    }

    /// Notes an answer.
    pub(super) fn recovered(&self) {
        // A load first: the common case, answering while not stalled, writes nothing.
        if self.is_stalled() && self.stalled.swap(false, Ordering::AcqRel) {
            tracing::info!("redis answers again");
        }
    }
}
