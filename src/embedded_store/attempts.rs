//! `EmbeddedAttemptLog`: webhook delivery attempts in the database, written in the background
//! (a crash may lose the last commit's, never a delivery), read from disk on a blocking thread,
//! and purged by age (once an hour of attempts' time, as they are written).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redb::ReadableDatabase;

use super::EmbeddedStore;
use super::schema::ATTEMPTS;
use super::writer::Op;
use crate::store::StoreError;
use crate::webhook::attempt_log::{
    AttemptLog, AttemptPage, AttemptQuery, AttemptRecord, MAX_SCAN, PageError, cursor, parse_cursor,
};

/// How much attempt time passes between two purges.
const PURGE_EVERY_MS: i64 = 3_600_000;

/// The webhook delivery attempts of the embedded store. Clones share it.
#[derive(Clone, Debug)]
pub struct EmbeddedAttemptLog {
    store: EmbeddedStore,
    retention: Duration,
    /// The attempt time of the last purge.
    purged_at: Arc<AtomicI64>,
}

impl EmbeddedAttemptLog {
    pub(super) fn new(store: EmbeddedStore, retention: Duration) -> Self {
        EmbeddedAttemptLog {
            store,
            retention,
            purged_at: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }
}

impl AttemptLog for EmbeddedAttemptLog {
    async fn record(&self, attempt: AttemptRecord) -> Result<(), StoreError> {
        let shared = &self.store.shared;
        let at = attempt.at.unix_millis();
        let seq = shared.next_attempt.fetch_add(1, Ordering::Relaxed);
        let mut ops = vec![Op::PutAttempt {
            key: (at, seq),
            json: attempt.to_json(),
        }];
        let last = self.purged_at.load(Ordering::Relaxed);
        if at.saturating_sub(last) >= PURGE_EVERY_MS
            && self
                .purged_at
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let before = attempt.at.saturating_sub(self.retention).unix_millis();
            ops.push(Op::PurgeAttempts { before });
        }
        // Not waited for: the log is not worth a disk wait on the worker's path.
        shared.writer.send(ops, None);
        Ok(())
    }

    async fn query(&self, query: &AttemptQuery) -> Result<AttemptPage, PageError> {
        let before = query.cursor.as_deref().map(parse_cursor).transpose()?;
        let db = self
            .store
            .database()
            .ok_or_else(|| PageError::Store(StoreError::new("the embedded store is closed")))?;
        let query = query.clone();
        let read = move || -> Result<AttemptPage, redb::Error> {
            let transaction = db.begin_read()?;
            let table = transaction.open_table(ATTEMPTS)?;
            let rows = match before {
                Some(key) => table.range(..key)?,
                None => table.range::<(i64, u64)>(..)?,
            };
            let (mut items, mut last, mut scanned) = (Vec::new(), None, 0);
            for row in rows.rev() {
                if items.len() == query.page_size() || scanned == MAX_SCAN {
                    return Ok(AttemptPage::new(items, last.map(cursor)));
                }
                let (key, json) = row?;
                scanned += 1;
                last = Some(key.value());
                match AttemptRecord::from_json(json.value()) {
                    Ok(attempt) if query.matches(&attempt) => items.push(attempt),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "an unreadable webhook attempt skipped"),
                }
            }
            Ok(AttemptPage::new(items, None))
        };
        let page = tokio::task::spawn_blocking(read)
            .await
            .map_err(|_| StoreError::new("the attempt log's read did not finish"))?;
        page.map_err(|e| PageError::Store(StoreError::new(format!("embedded: {e}"))))
    }
}
