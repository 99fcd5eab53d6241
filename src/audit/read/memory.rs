//! The in-memory log read back: the lines it still holds (its oldest are evicted past its
//! capacity), found by their `seq` and filing time.

use super::cursor::Position;
use super::query::{Filter, Next, Page};
use super::{AuditCursor, AuditPage, AuditReadError, ChainVerifier, VerifyReport};
use crate::audit::MemoryAuditSink;

/// One page of the sink's lines, newest first. The writer waits while a page is read: at
/// most [`SCAN_LIMIT`](super::SCAN_LIMIT) lines, already in memory.
pub(super) fn query(
    sink: &MemoryAuditSink,
    filter: Filter<'_>,
) -> Result<AuditPage, AuditReadError> {
    let lines = sink.locked();
    // Lines are held in `seq` order, and filed in that order too.
    let mut end = match filter.cursor() {
        Some(AuditCursor(Position::Memory { seq })) => lines.partition_point(|l| l.seq < seq),
        Some(_) => {
            return Err(AuditReadError::InvalidCursor(
                "it is a cursor of another kind of audit log",
            ));
        }
        None => match filter.filed_until() {
            Some(until) => lines.partition_point(|l| l.ts <= until),
            None => lines.len(),
        },
    };
    let mut page = Page::new(filter);
    while let Some(before) = end.checked_sub(1) {
        end = before;
        let line = &lines[end];
        // Filed before `from`, so stamped before it, as is every line before it.
        if filter.from().is_some_and(|from| line.ts < from) {
            break;
        }
        if page.line(&line.line) == Next::Stop {
            let at = Position::Memory { seq: line.seq };
            return Ok(page.finish(Some(AuditCursor(at))));
        }
    }
    Ok(page.finish(None))
}

/// The lines held, verified; the in-memory log keeps no checkpoint.
pub(super) fn verify(sink: &MemoryAuditSink) -> VerifyReport {
    let mut verifier = ChainVerifier::new();
    for line in sink.lines() {
        verifier.line(line);
    }
    verifier.finish()
}
