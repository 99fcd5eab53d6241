//! A Redis audit stream read back: `XREVRANGE` in bounded batches for queries, `XRANGE` pages
//! for verification, each on the source's own connection.

use std::io;

use super::cursor::Position;
use super::query::{Filter, Next, Page};
use super::{AuditCursor, AuditPage, AuditReadError, ChainVerifier, VerifyReport};
use crate::clock::Timestamp;
use crate::redis_store::RedisAuditSink;
use crate::redis_store::audit_read::StreamEnd;

/// How many entries one round trip reads.
const BATCH: usize = 500;

/// One page of the stream's lines, newest first. Entry ids are the lines' filing times (or a
/// little later), so `from` and `to` bound the range read.
pub(super) fn query(
    stream: &RedisAuditSink,
    filter: Filter<'_>,
) -> Result<AuditPage, AuditReadError> {
    let mut end = match filter.cursor() {
        Some(AuditCursor(Position::Stream { millis, seq })) => StreamEnd::Before((millis, seq)),
        Some(_) => {
            return Err(AuditReadError::InvalidCursor(
                "it is a cursor of another kind of audit log",
            ));
        }
        None => filter.filed_until().map_or(StreamEnd::Newest, |until| {
            StreamEnd::FiledUntil(millis(until))
        }),
    };
    // An entry whose id is before `from` was filed, and so stamped, before it.
    let filed_from = filter.from().map(millis);
    let mut page = Page::new(filter);
    loop {
        let batch = stream
            .read_back(end, filed_from, BATCH)
            .map_err(unavailable)?;
        for ((millis, seq), line) in &batch {
            if page.line(line.as_deref().unwrap_or_default()) == Next::Stop {
                let at = Position::Stream {
                    millis: *millis,
                    seq: *seq,
                };
                return Ok(page.finish(Some(AuditCursor(at))));
            }
        }
        match batch.last() {
            Some((id, _)) if batch.len() == BATCH => end = StreamEnd::Before(*id),
            _ => return Ok(page.finish(None)),
        }
    }
}

/// The stream verified, oldest first, [`BATCH`] entries a round trip; the head checkpoint read
/// before the lines (each batch moves it with them, in one transaction).
pub(super) fn verify(stream: &RedisAuditSink) -> Result<VerifyReport, AuditReadError> {
    let mut verifier = ChainVerifier::new();
    let checkpoint = stream.checkpoint().transpose();
    verifier.checkpoint(checkpoint.map(|read| read.map_err(|e| format!("Redis: {e}"))));
    let mut after = None;
    loop {
        let batch = stream.read_on(after, BATCH).map_err(unavailable)?;
        let full = batch.len() == BATCH;
        after = batch.last().map(|(id, _)| *id);
        // An entry without a line is not the writer's: the chain is the lines.
        for line in batch.into_iter().filter_map(|(_, line)| line) {
            verifier.line(line);
        }
        if !full {
            return Ok(verifier.finish());
        }
    }
}

/// Milliseconds as stream ids count them: none before the epoch.
fn millis(ts: Timestamp) -> u64 {
    u64::try_from(ts.unix_millis()).unwrap_or(0)
}

/// The error says no more than the kind of failure: a connection error's text may carry the URL.
fn unavailable(error: io::Error) -> AuditReadError {
    AuditReadError::io("Redis", error)
}
