//! Whether a connection has a request in flight, and since when it has had none: what the idle
//! timeout reads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The requests in flight on one connection and when the last one ended.
#[derive(Debug)]
pub(crate) struct Activity {
    started: AtomicBool,
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            started: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }
}

/// A request in flight; dropped when its response is ready or the call is abandoned.
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    /// Marks a request in flight until the returned guard is dropped.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        self.started.store(true, Ordering::Release);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(self))
    }

    /// Resolves if no request has started by `deadline`; else never.
    pub(crate) async fn no_request_by(&self, deadline: Instant) {
        tokio::time::sleep_until(deadline).await;
        if self.started.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once no request has been in flight for `limit`.
    pub(crate) async fn idle_for(&self, limit: Duration) {
        loop {
            let last = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if self.in_flight.load(Ordering::Acquire) == 0 && last.elapsed() >= limit {
                return;
            }
            // A request in flight now ends no sooner than `limit` from here.
            let next = if self.in_flight.load(Ordering::Acquire) == 0 {
                last + limit
            } else {
                Instant::now() + limit
            };
            tokio::time::sleep_until(next).await;
        }
    }
}
