use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::{ChainHead, ChainedLine};
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

    /// The last line written, to continue the chain after a restart.
    fn head(&self) -> io::Result<ChainHead>;
}

/// Audit lines in process memory: for tests, and for deployments that ship the log elsewhere.
/// Clones share one log.
#[derive(Clone, Debug, Default)]
pub struct MemoryAuditSink {
    lines: Arc<Mutex<VecDeque<ChainedLine>>>,
}

impl MemoryAuditSink {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
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

    fn locked(&self) -> std::sync::MutexGuard<'_, VecDeque<ChainedLine>> {
        // A panic while holding the lock leaves whole lines only; the data is still good.
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuditSink for MemoryAuditSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        self.locked().extend(batch.iter().cloned());
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
            .map_or(ChainHead::default(), |l| ChainHead {
                seq: l.seq,
                hash: l.hash,
            }))
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
