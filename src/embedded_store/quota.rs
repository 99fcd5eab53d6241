//! `EmbeddedQuotaStore`: quota counters and alert marks answered from memory, with units
//! reserved on disk ahead of use (see [`block`](super::block)).

use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

use super::block::{QuotaCell, Take};
use super::writer::Op;
use super::{EmbeddedStore, Shared};
use crate::deployment::BackendFuture;
use crate::quota::{AlertThresholds, QuotaKey, QuotaStore, Reservation};
use crate::store::StoreError;

/// The future of [`EmbeddedQuotaStore::reserve`](QuotaStore::reserve): answered in memory
/// (the `Memory` arm, no allocation) while the committed block has room; boxed (the `Shared`
/// arm) only when the request waits for the next block's commit.
pub type EmbeddedReserve = BackendFuture<
    std::future::Ready<Result<Reservation, StoreError>>,
    Pin<Box<dyn Future<Output = Result<Reservation, StoreError>> + Send>>,
>;

/// Quota counters of the embedded store. Clones share them.
#[derive(Clone, Debug)]
pub struct EmbeddedQuotaStore {
    pub(super) store: EmbeddedStore,
}

impl EmbeddedQuotaStore {
    /// The store these counters live in.
    pub fn store(&self) -> &EmbeddedStore {
        &self.store
    }
}

impl Shared {
    fn cell(&self, key: &QuotaKey) -> Arc<QuotaCell> {
        if let Some(cell) = self.quotas.get(key) {
            return Arc::clone(&cell);
        }
        Arc::clone(&self.quotas.entry(key.clone()).or_default())
    }

    /// The answer from memory, or `None` when the request must wait for a block.
    fn admit(
        self: &Arc<Self>,
        cell: &Arc<QuotaCell>,
        key: &QuotaKey,
        limit: u64,
        thresholds: AlertThresholds,
    ) -> Option<Reservation> {
        let answer = match cell.try_take(limit) {
            Take::Reserved(used) => {
                let reached = thresholds.reached_by(used, limit);
                let alerts = if reached.is_empty() {
                    AlertThresholds::NONE
                } else {
                    self.mark_alerts(cell, key, reached)
                };
                Some(Reservation::Reserved { used, alerts })
            }
            Take::Exhausted => Some(Reservation::Exhausted),
            Take::NeedBlock => None,
        };
        if let Some(ceiling) = cell.block_due(limit) {
            self.commit_block(cell, key, ceiling, None);
        }
        answer
    }

    /// Claims the reached thresholds not marked yet and writes their marks in the background.
    /// Checking every reached threshold, not only the one this unit crosses, lets a counter
    /// read back after a crash (which jumps to its ceiling) still fire the ones it skipped.
    fn mark_alerts(
        &self,
        cell: &QuotaCell,
        key: &QuotaKey,
        reached: AlertThresholds,
    ) -> AlertThresholds {
        let claimed = cell.claim_marks(reached.bits());
        if claimed != 0 {
            let op = Op::MarkAlerts {
                key: key.clone(),
                bits: claimed,
            };
            self.writer.send(vec![op], None);
        }
        AlertThresholds::from_bits(claimed)
    }

    /// Sends the block ending at `ceiling`; the cell learns how it went, and so does `tell`.
    fn commit_block(
        &self,
        cell: &Arc<QuotaCell>,
        key: &QuotaKey,
        ceiling: u64,
        tell: Option<oneshot::Sender<Result<(), StoreError>>>,
    ) {
        let cell = Arc::clone(cell);
        let project = Arc::clone(&key.project);
        let op = Op::RaiseCeiling {
            key: key.clone(),
            ceiling,
        };
        self.writer.send(
            vec![op],
            Some(Box::new(move |result: &Result<(), StoreError>| {
                if let Err(error) = result {
                    tracing::warn!(project = &*project, %error, "quota block not committed");
                }
                cell.block_ended(result.is_ok().then_some(ceiling));
                if let Some(tell) = tell {
                    let _ = tell.send(result.clone());
                }
            })),
        );
    }
}

/// A request whose unit is above the committed ceiling: commits the next block (or waits for
/// the one under way), then takes its unit.
async fn wait_for_block(
    shared: Arc<Shared>,
    cell: Arc<QuotaCell>,
    key: QuotaKey,
    limit: u64,
    thresholds: AlertThresholds,
) -> Result<Reservation, StoreError> {
    loop {
        let committed = cell.committed.notified();
        tokio::pin!(committed);
        // Registered before the check, so a commit ending in between still wakes us.
        committed.as_mut().enable();
        if let Some(answer) = shared.admit(&cell, &key, limit, thresholds) {
            return Ok(answer);
        }
        if shared.closed.load(Ordering::Acquire) {
            return Err(StoreError::new("the embedded store is closed"));
        }
        match cell.block_due(limit) {
            Some(ceiling) => {
                let (tell, told) = oneshot::channel();
                shared.commit_block(&cell, &key, ceiling, Some(tell));
                told.await
                    .unwrap_or_else(|_| Err(StoreError::new("the embedded store is closed")))?;
            }
            None => committed.await,
        }
    }
}

impl QuotaStore for EmbeddedQuotaStore {
    type Reserve = EmbeddedReserve;

    fn reserve(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Self::Reserve {
        let shared = &self.store.shared;
        if shared.closed.load(Ordering::Acquire) {
            let closed = StoreError::new("the embedded store is closed");
            return BackendFuture::Memory {
                future: ready(Err(closed)),
            };
        }
        let cell = shared.cell(key);
        match shared.admit(&cell, key, limit, thresholds) {
            Some(answer) => BackendFuture::Memory {
                future: ready(Ok(answer)),
            },
            None => BackendFuture::Shared {
                future: Box::pin(wait_for_block(
                    Arc::clone(shared),
                    cell,
                    key.clone(),
                    limit,
                    thresholds,
                )),
            },
        }
    }

    fn refund(&self, key: &QuotaKey) {
        if let Some(cell) = self.store.shared.quotas.get(key) {
            cell.give_back();
        }
    }

    fn used(&self, key: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let used = self
            .store
            .shared
            .quotas
            .get(key)
            .map_or(0, |cell| cell.used());
        ready(Ok(used))
    }
}
