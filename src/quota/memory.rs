use std::future::{Future, Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::{DashMap, DashSet};

use super::{AlertThresholds, Month, QuotaKey, QuotaStore, Reservation};
use crate::store::StoreError;

/// Quota counters in process memory. Clones share one set of counters.
///
/// Counters of months older than the previous one are dropped when a new month is first seen:
/// the current and the last month stay readable for billing.
#[derive(Clone, Debug, Default)]
pub struct MemoryQuotaStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    used: DashMap<QuotaKey, AtomicU64>,
    alerted: DashSet<(QuotaKey, u8)>,
    /// `year * 12 + month` of the newest month seen, to notice a new month with one load.
    newest_month: AtomicI64,
}

impl MemoryQuotaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn reserve_now(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Reservation {
        self.forget_old_months(key.month);
        let taken = match self.inner.used.get(key) {
            Some(counter) => take_one(&counter, limit),
            None => take_one(&self.inner.used.entry(key.clone()).or_default(), limit),
        };
        let Some(used) = taken else {
            return Reservation::Exhausted;
        };
        let crossed = thresholds.crossed_by(used, limit);
        // Marking is what makes an alert fire once: a refund and a second crossing of the same
        // threshold in the same month finds the mark.
        let alerts = AlertThresholds::new(
            crossed
                .iter()
                .filter(|percent| self.inner.alerted.insert((key.clone(), *percent))),
        );
        Reservation::Reserved { used, alerts }
    }

    fn forget_old_months(&self, month: Month) {
        let code = i64::from(month.year()) * 12 + i64::from(month.number());
        let newest = self.inner.newest_month.load(Ordering::Acquire);
        if code <= newest {
            return;
        }
        // One thread wins the new month and sweeps; the others go on.
        if self
            .inner
            .newest_month
            .compare_exchange(newest, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let keep_from = month.previous();
            self.inner.used.retain(|key, _| key.month >= keep_from);
            self.inner.alerted.retain(|(key, _)| key.month >= keep_from);
        }
    }
}

/// Takes one unit if fewer than `limit` are used; the count after, or `None`.
fn take_one(counter: &AtomicU64, limit: u64) -> Option<u64> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            (used < limit).then_some(used + 1)
        })
        .ok()
        .map(|before| before + 1)
}

impl QuotaStore for MemoryQuotaStore {
    type Reserve = Ready<Result<Reservation, StoreError>>;

    fn reserve(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Self::Reserve {
        ready(Ok(self.reserve_now(key, limit, thresholds)))
    }

    fn refund(&self, key: &QuotaKey) {
        if let Some(counter) = self.inner.used.get(key) {
            // Never below zero, even if a refund arrives for a counter dropped with its month.
            let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_sub(1)
            });
        }
    }

    fn used(&self, key: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send {
        ready(Ok(self
            .inner
            .used
            .get(key)
            .map_or(0, |counter| counter.load(Ordering::Acquire))))
    }
}
