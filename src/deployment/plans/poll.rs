//! Following a shared store's plans: every [`POLL_EVERY`], one read of the store's generation,
//! and a load of every plan when it moved.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::PlanBook;
use crate::quota::PlanStore;

/// How often a deployment on a shared store reads the plans' generation. With a load when it
/// moved, a change made on another instance is in force here well within a second.
pub const PLAN_POLL_EVERY: Duration = Duration::from_millis(250);

/// Starts the task that follows the store's plans, when other processes may change them. It
/// ends once the book is dropped (the deployment stopped).
pub(in crate::deployment) fn spawn_poller(book: &Arc<PlanBook>) {
    if !book.store.is_shared() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no tokio runtime: plans changed on other instances are not followed");
        return;
    };
    let book: Weak<PlanBook> = Arc::downgrade(book);
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(PLAN_POLL_EVERY).await;
            let Some(book) = book.upgrade() else {
                return;
            };
            book.poll().await;
        }
    });
}

impl PlanBook {
    /// One look at the store: the plans put in force when their generation moved. A store
    /// that does not answer leaves the last plans in force, and is logged once per outage.
    pub(super) async fn poll(&self) {
        let mut held = self.hold().await;
        let seen = held.api.generation;
        let read = async {
            let generation = self.store.generation().await?;
            if generation == seen {
                return Ok(None);
            }
            // Moved on, or back (a Redis emptied and reseeded): either way what the store
            // holds now is what every instance puts in force.
            self.store.load().await.map(Some)
        };
        match read.await {
            Ok(found) => {
                if held.poll_failing {
                    held.poll_failing = false;
                    tracing::info!("the plans are read from the store again");
                }
                if let Some(api) = found {
                    self.adopt(&mut held, api);
                }
            }
            Err(error) if !held.poll_failing => {
                held.poll_failing = true;
                tracing::warn!(
                    %error,
                    "the plans could not be read from the store; the last ones stay in force"
                );
            }
            Err(_) => {}
        }
    }
}
