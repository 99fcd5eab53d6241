//! Usage counted in process and flushed to Redis in the background: the entries this process
//! counts on, what of their counts Redis already has, and the task that writes the rest.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::scripts::{FLUSH, FLUSH_BATCH};
use super::{Inner, RedisKeyStore};
use crate::clock::Timestamp;
use crate::key::{KeyEntry, KeyHash, KeyRecord, KeyUsage};
use crate::redis_store::RedisConnection;
use crate::store::StoreError;

/// An entry with what of its usage Redis already has, and the view of the key cache its record
/// was last read in.
#[derive(Debug)]
pub(super) struct Tracked {
    pub(super) hash: KeyHash,
    pub(super) entry: Arc<KeyEntry>,
    flushed_count: AtomicU64,
    flushed_last: AtomicI64,
    /// 0 until a look-up read the record; the cache answers only in this view.
    confirmed_in: AtomicU64,
}

/// Usage of one entry not yet in Redis, as seen when a flush started.
pub(super) struct Pending {
    tracked: Arc<Tracked>,
    count: u64,
    delta: u64,
    last: Option<i64>,
}

pub(super) fn start_flusher(inner: &Arc<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            "RedisKeyStore built outside a tokio runtime: key usage is written only by flush_usage"
        );
        return;
    };
    let inner: Weak<Inner> = Arc::downgrade(inner);
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(RedisKeyStore::FLUSH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            if let Err(error) = inner.flush().await {
                tracing::warn!(%error, "key usage not flushed; retrying at the next tick");
            }
        }
    });
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The poll and the subscription serve this store alone.
        for task in &self.watchers {
            task.abort();
        }
        let pending = self.pending();
        if pending.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                keys = pending.len(),
                "RedisKeyStore dropped outside a tokio runtime: unflushed key usage lost"
            );
            return;
        };
        let connection = self.connection.clone();
        let keys: Vec<String> = pending
            .iter()
            .map(|p| self.hash_key(&p.tracked.hash))
            .collect();
        runtime.spawn(async move {
            for (keys, batch) in keys.chunks(FLUSH_BATCH).zip(pending.chunks(FLUSH_BATCH)) {
                if let Err(error) = send_keys(&connection, keys, batch).await {
                    tracing::warn!(%error, "key usage lost when the store was dropped");
                }
            }
        });
    }
}

async fn send(
    connection: &RedisConnection,
    inner: &Inner,
    batch: &[Pending],
) -> Result<(), StoreError> {
    let keys: Vec<String> = batch
        .iter()
        .map(|p| inner.hash_key(&p.tracked.hash))
        .collect();
    send_keys(connection, &keys, batch).await
}

async fn send_keys(
    connection: &RedisConnection,
    keys: &[String],
    batch: &[Pending],
) -> Result<(), StoreError> {
    let mut invocation = FLUSH.prepare_invoke();
    invocation.key(keys);
    for pending in batch {
        invocation
            .arg(pending.delta)
            .arg(pending.last.map_or_else(String::new, |l| l.to_string()));
    }
    let mut manager = connection.manager();
    connection
        .timed(invocation.invoke_async::<i64>(&mut manager))
        .await
        .map(|_| ())
}

impl Tracked {
    pub(super) fn new(hash: KeyHash, record: KeyRecord, stored: KeyUsage) -> Arc<Self> {
        Arc::new(Tracked {
            hash,
            entry: Arc::new(KeyEntry::with_usage(record, stored)),
            flushed_count: AtomicU64::new(stored.request_count),
            flushed_last: AtomicI64::new(stored.last_used.map_or(i64::MIN, Timestamp::unix_millis)),
            confirmed_in: AtomicU64::new(0),
        })
    }

    /// Its record was read from Redis in `view`. Never moves back: of two look-ups that read
    /// the same record, the one that started later says more.
    pub(super) fn confirm(&self, view: u64) {
        self.confirmed_in.fetch_max(view, Ordering::AcqRel);
    }

    /// Whether its record was read in `view`.
    pub(super) fn is_confirmed_in(&self, view: u64) -> bool {
        self.confirmed_in.load(Ordering::Acquire) == view
    }

    fn pending(self: Arc<Self>) -> Option<Pending> {
        let usage = self.entry.usage();
        let delta = usage
            .request_count
            .saturating_sub(self.flushed_count.load(Ordering::Acquire));
        let last = usage
            .last_used
            .map(Timestamp::unix_millis)
            .filter(|last| *last > self.flushed_last.load(Ordering::Acquire));
        (delta > 0 || last.is_some()).then_some(Pending {
            count: usage.request_count,
            delta,
            last,
            tracked: self,
        })
    }
}

impl Inner {
    pub(super) fn retire(&self, tracked: Arc<Tracked>) {
        if let Ok(mut retired) = self.retired.lock() {
            retired.push(tracked);
        }
    }

    pub(super) fn tracked(&self) -> Vec<Arc<Tracked>> {
        let mut all: Vec<_> = self.cache.iter().map(|t| Arc::clone(t.value())).collect();
        if let Ok(retired) = self.retired.lock() {
            all.extend(retired.iter().cloned());
        }
        all
    }

    /// The usage of every entry that Redis does not have yet.
    pub(super) fn pending(&self) -> Vec<Pending> {
        self.tracked()
            .into_iter()
            .filter_map(|tracked| tracked.pending())
            .collect()
    }

    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.flush_lock.lock().await;
        // Taken before reading usage: an entry no one else holds can gain no more uses.
        let idle: Vec<Arc<Tracked>> = match self.retired.lock() {
            Ok(retired) => retired
                .iter()
                .filter(|t| Arc::strong_count(&t.entry) == 1)
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        };
        let pending = self.pending();
        for batch in pending.chunks(FLUSH_BATCH) {
            send(&self.connection, self, batch).await?;
            for done in batch {
                done.tracked
                    .flushed_count
                    .store(done.count, Ordering::Release);
                if let Some(last) = done.last {
                    done.tracked.flushed_last.store(last, Ordering::Release);
                }
            }
        }
        if let Ok(mut retired) = self.retired.lock() {
            // By address, in one pass: a full cache retires thousands of entries at once.
            let idle: HashSet<*const Tracked> = idle.iter().map(Arc::as_ptr).collect();
            retired.retain(|t| !idle.contains(&Arc::as_ptr(t)));
        }
        Ok(())
    }

    /// Requests and last use of `hash` counted here and not flushed yet.
    pub(super) fn unflushed(&self, hash: &KeyHash) -> (u64, Option<i64>) {
        self.tracked()
            .into_iter()
            .filter(|t| t.hash == *hash)
            .filter_map(|t| t.pending())
            .fold((0, None), |(count, last), p| {
                (count + p.delta, last.max(p.last))
            })
    }
}
