use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{AuditSource, ChainHead, ChainedLine};
use crate::clock::Timestamp;

/// Where chained audit lines are kept.
///
/// Called from the audit writer only, one call at a time, off the request path (on a blocking
/// thread), so implementations may block on I/O.
pub trait AuditSink: Send + Sync + 'static {
    /// Appends `batch`, in order. On error nothing of the batch may count as written: the
    /// writer retries the whole batch (so a sink appends it all or, on failure, none of it
    /// where it can; a partly written batch is written again and `verify` shows the repeat).
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()>;

    /// Removes events older than `cutoff`; returns how many.
    fn purge_before(&self, cutoff: Timestamp) -> io::Result<usize>;

    /// The last whole line written, to continue the chain after a restart. Read-only: a reader
    /// beside the writer may call it.
    fn head(&self) -> io::Result<ChainHead>;

    /// Called once by the writer when it starts, before its first write: repairs what a crash
    /// left behind (a torn last line), and says where the chain goes on and what was repaired,
    /// which the writer records as the first event of the resumed chain. The default is
    /// [`head`](Self::head), nothing repaired.
    fn resume(&self) -> io::Result<Resumed> {
        Ok(Resumed::at(self.head()?))
    }

    /// How many lines the sink has removed to stay within a bound of its own, before retention
    /// would have; read after each write. Any is a loss: the audit log's health check reports
    /// `degraded` with the count. A sink without a bound keeps the default, 0.
    fn evicted(&self) -> u64 {
        0
    }

    /// Where the log this sink writes is read back from, for queries and verification; read
    /// once, when the writer starts. The default, for a sink of the application's own, is
    /// [`AuditSource::Unreadable`].
    fn source(&self) -> AuditSource {
        AuditSource::Unreadable
    }
}

/// Where a sink's chain goes on when a writer starts ([`AuditSink::resume`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resumed {
    /// The last whole line: the chain goes on after it.
    pub head: ChainHead,
    /// No new line is filed before this time: the head's filing time, or any time after it that
    /// still files new lines after the head (for daily segments, the start of the head's day).
    pub filed_from: Timestamp,
    /// What the sink repaired or found amiss, as the `detail` of a `RECOVERY` event that the
    /// writer chains first; `None` when nothing was.
    pub recovery: Option<String>,
}

impl Resumed {
    /// The chain goes on after `head`, nothing repaired.
    pub fn at(head: ChainHead) -> Self {
        Resumed {
            head,
            ..Resumed::default()
        }
    }

    /// No new line is filed before `filed_from`.
    #[must_use]
    pub fn filed_from(mut self, filed_from: Timestamp) -> Self {
        self.filed_from = filed_from;
        self
    }

    /// The writer records `detail` as a `RECOVERY` event before anything else.
    #[must_use]
    pub fn with_recovery(mut self, detail: String) -> Self {
        self.recovery = Some(detail);
        self
    }
}

/// Audit lines in process memory, for tests and development: a production deployment writes
/// its audit log to files ([`JsonLinesSink`](super::JsonLinesSink)) or Redis.
///
/// Bounded: it holds at most its capacity of lines ([`MemoryAuditSink::DEFAULT_CAPACITY`]
/// unless [`MemoryAuditSink::with_capacity`] says otherwise). When full, each new line evicts
/// the oldest one; [`MemoryAuditSink::evicted`] counts them, and the audit log's health check
/// reports `degraded` with the count, since evicted events are gone from the log. Clones share
/// one log.
#[derive(Clone, Debug)]
pub struct MemoryAuditSink {
    shared: Arc<Bounded>,
}

#[derive(Debug)]
struct Bounded {
    lines: Mutex<VecDeque<ChainedLine>>,
    capacity: usize,
    evicted: AtomicU64,
}

impl MemoryAuditSink {
    /// The capacity of [`MemoryAuditSink::new`]: 10,000 lines. A line is at most about 3 KB
    /// (the path is cut at 2 KB and the user agent at 512 bytes), so a full sink holds about
    /// 30 MB at worst.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty log of [`MemoryAuditSink::DEFAULT_CAPACITY`] lines.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty log holding at most `capacity` lines; with 0, every line is evicted as it
    /// arrives.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryAuditSink {
            shared: Arc::new(Bounded {
                lines: Mutex::new(VecDeque::new()),
                capacity,
                evicted: AtomicU64::new(0),
            }),
        }
    }

    /// The lines held, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.locked().iter().map(|l| l.line.clone()).collect()
    }

    /// How many lines are held.
    pub fn len(&self) -> usize {
        self.locked().len()
    }

    /// Whether no line is held.
    pub fn is_empty(&self) -> bool {
        self.locked().is_empty()
    }

    /// The most lines held at once.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// How many of the oldest lines were evicted to stay within the capacity.
    pub fn evicted(&self) -> u64 {
        self.shared.evicted.load(Ordering::Relaxed)
    }

    /// The lines held, oldest first, for as long as the guard lives: the writer waits meanwhile.
    pub(crate) fn locked(&self) -> std::sync::MutexGuard<'_, VecDeque<ChainedLine>> {
        // A panic while holding the lock leaves whole lines only; the data is still good.
        self.shared
            .lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryAuditSink {
    fn default() -> Self {
        Self::new()
    }
}

impl AuditSink for MemoryAuditSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        let mut lines = self.locked();
        lines.extend(batch.iter().cloned());
        let over = lines.len().saturating_sub(self.shared.capacity);
        if over > 0 {
            lines.drain(..over);
            self.shared
                .evicted
                .fetch_add(over as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    fn purge_before(&self, cutoff: Timestamp) -> io::Result<usize> {
        let mut lines = self.locked();
        let before = lines.len();
        lines.retain(|l| l.ts >= cutoff);
        Ok(before - lines.len())
    }

    fn head(&self) -> io::Result<ChainHead> {
        Ok(self
            .locked()
            .back()
            .map_or(ChainHead::default(), ChainedLine::head))
    }

    fn resume(&self) -> io::Result<Resumed> {
        let lines = self.locked();
        Ok(match lines.back() {
            Some(last) => Resumed::at(last.head()).filed_from(last.ts),
            None => Resumed::default(),
        })
    }

    fn evicted(&self) -> u64 {
        MemoryAuditSink::evicted(self)
    }

    fn source(&self) -> AuditSource {
        AuditSource::Memory(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditLog, AuditLogConfig};

    #[test]
    fn starting_outside_a_runtime_is_an_error_not_a_panic() {
        let error = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap_err();
        assert!(error.to_string().contains("tokio runtime"), "{error}");
    }
}
