//! The attempt log in process memory: for development and tests, bounded (the oldest attempts
//! make room, counted) and purged by age as it is written.

use std::collections::VecDeque;
use std::future::{Future, ready};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{
    AttemptLog, AttemptPage, AttemptQuery, AttemptRecord, MAX_SCAN, PageError, cursor, parse_cursor,
};
use crate::store::StoreError;

/// Attempts in process memory. Clones share them.
#[derive(Clone, Debug)]
pub struct MemoryAttemptLog {
    inner: Arc<Mutex<Inner>>,
    retention: Duration,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    /// Oldest first, each with its arrival number.
    attempts: VecDeque<(u64, AttemptRecord)>,
    next: u64,
    evicted: u64,
}

impl MemoryAttemptLog {
    /// The default bound: 10,000 attempts.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A log keeping attempts for `retention`, at most [`Self::DEFAULT_CAPACITY`].
    pub fn new(retention: Duration) -> Self {
        MemoryAttemptLog {
            inner: Arc::default(),
            retention,
            capacity: Self::DEFAULT_CAPACITY,
        }
    }

    /// At most `n` attempts (at least 1): beyond, the oldest make room.
    #[must_use]
    pub fn with_capacity(mut self, n: usize) -> Self {
        self.capacity = n.max(1);
        self
    }

    /// Attempts dropped to make room (not those past the retention).
    pub fn evicted(&self) -> u64 {
        self.locked().evicted
    }

    fn locked(&self) -> MutexGuard<'_, Inner> {
        // Each change is one push or pop: a panic cannot leave the queue torn.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AttemptLog for MemoryAttemptLog {
    fn record(
        &self,
        attempt: AttemptRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let oldest_kept = attempt.at.saturating_sub(self.retention);
        let mut inner = self.locked();
        while inner
            .attempts
            .front()
            .is_some_and(|(_, a)| a.at < oldest_kept)
        {
            inner.attempts.pop_front();
        }
        while inner.attempts.len() >= self.capacity {
            inner.attempts.pop_front();
            inner.evicted += 1;
        }
        inner.next += 1;
        let seq = inner.next;
        inner.attempts.push_back((seq, attempt));
        ready(Ok(()))
    }

    fn query(
        &self,
        query: &AttemptQuery,
    ) -> impl Future<Output = Result<AttemptPage, PageError>> + Send {
        ready(self.page(query))
    }
}

impl MemoryAttemptLog {
    fn page(&self, query: &AttemptQuery) -> Result<AttemptPage, PageError> {
        let before = query.cursor.as_deref().map(parse_cursor).transpose()?;
        let inner = self.locked();
        let (mut items, mut last, mut scanned) = (Vec::new(), None, 0);
        for (seq, attempt) in inner.attempts.iter().rev() {
            if before.is_some_and(|(_, after)| *seq >= after) {
                continue;
            }
            if items.len() == query.page_size() || scanned == MAX_SCAN {
                return Ok(AttemptPage::new(items, last.map(cursor)));
            }
            scanned += 1;
            last = Some((attempt.at.unix_millis(), *seq));
            if query.matches(attempt) {
                items.push(attempt.clone());
            }
        }
        Ok(AttemptPage::new(items, None))
    }
}
