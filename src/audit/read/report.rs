//! What a verification of an audit log found, as data: for an admin API to answer as JSON and
//! for `memorysync audit verify` to print.

use std::fmt;

use serde::Serialize;

use super::ChainVerifier;
use crate::audit::{BreakKind, ChainHead, ENDS_BEFORE_CHECKPOINT};

/// The result of verifying an audit log ([`AuditSource::verify`](super::AuditSource::verify)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// No break, the checkpoint reached (or none), no recovery that declared lines lost.
    pub ok: bool,
    /// How many lines the log holds.
    pub lines: usize,
    /// The last line's `seq` and hash; `None` when the log has no lines (`lines` is 0) or its
    /// last line is not an audit line.
    pub head: Option<HeadReport>,
    /// What the head checkpoint kept beside the log says; `None` when there is none (the
    /// in-memory log keeps none).
    pub checkpoint: Option<CheckpointReport>,
    /// Bytes after the newest segment's last line: a write in progress, or cut short by a crash.
    pub torn_tail: Option<TornTail>,
    /// The `RECOVERY` events the writer chained at its starts, oldest first.
    pub recoveries: Vec<Recovery>,
    /// The first line that does not follow from the one before it.
    pub first_break: Option<FirstBreak>,
}

/// The end of a log: its last `seq` and the SHA-256 of its last line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeadReport {
    /// The last line's `seq`.
    pub seq: u64,
    /// The last line's SHA-256, 64 lowercase hex digits.
    pub hash: String,
}

/// A line of the log: its position, and for JSON Lines its segment and its line there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinePlace {
    /// The 1-based position in the whole log.
    pub line: usize,
    /// The segment file holding it, for a JSON Lines log.
    pub segment: Option<String>,
    /// Its 1-based position in that segment.
    pub line_in_segment: Option<usize>,
}

impl fmt::Display for LinePlace {
    /// `line N`, or `line N (audit-YYYY-MM-DD.jsonl line M)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.segment, self.line_in_segment) {
            (Some(segment), Some(at)) => write!(f, "line {} ({segment} line {at})", self.line),
            _ => write!(f, "line {}", self.line),
        }
    }
}

/// What the head checkpoint says of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckpointReport {
    /// It could not be read. Fails the check.
    Unreadable {
        /// Why.
        error: String,
    },
    /// Not compared: the chain is broken before it.
    NotChecked {
        /// The checkpoint's `seq`.
        seq: u64,
    },
    /// The log holds the line it names.
    Reached {
        /// The checkpoint's `seq`.
        seq: u64,
    },
    /// The log's line at its `seq` is another: edited or replaced. Fails the check.
    Replaced {
        /// The checkpoint's `seq`.
        seq: u64,
        /// The line at that `seq`.
        line: LinePlace,
    },
    /// It names a line before the oldest one, purged by retention: nothing to compare.
    BeforeOldest {
        /// The checkpoint's `seq`.
        seq: u64,
    },
    /// The log ends before it: lines were cut off. Fails the check.
    NotReached {
        /// The checkpoint's `seq`.
        seq: u64,
        /// The `seq` the log ends at.
        log_ends_at: u64,
    },
    /// The log has no lines, though it names one: they were removed. Fails the check.
    NoLines {
        /// The checkpoint's `seq`.
        seq: u64,
    },
}

impl CheckpointReport {
    /// Whether it fails the check.
    pub fn fails(&self) -> bool {
        matches!(
            self,
            Self::Unreadable { .. }
                | Self::Replaced { .. }
                | Self::NotReached { .. }
                | Self::NoLines { .. }
        )
    }
}

/// Bytes after the last newline of the newest segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TornTail {
    /// The segment's file name.
    pub segment: String,
    /// How many bytes.
    pub bytes: usize,
}

/// A `RECOVERY` event: where it is and what the writer said it repaired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Its line.
    #[serde(flatten)]
    pub at: LinePlace,
    /// The event's `detail`, e.g. `torn_tail_bytes=27 moved_to=... resumed_after_seq=41`.
    pub detail: String,
    /// Whether it declares lines lost (the log had ended before its checkpoint): fails the
    /// check.
    pub lost_lines: bool,
}

impl Recovery {
    pub(super) fn new(at: LinePlace, detail: String) -> Self {
        let lost_lines = detail.starts_with(ENDS_BEFORE_CHECKPOINT);
        Recovery {
            at,
            detail,
            lost_lines,
        }
    }
}

/// Where the chain first breaks, told by the line at fault: for an edit, the line whose hash
/// the next line does not carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirstBreak {
    /// What is wrong.
    pub kind: BreakKind,
    /// The line at fault.
    #[serde(flatten)]
    pub at: LinePlace,
    /// Its `seq`, when it is an audit line.
    pub seq: Option<u64>,
    /// What is wrong, in words that follow the line's place, e.g. `is not an audit line`.
    pub reason: &'static str,
}

/// The report of a verifier that was given every line.
pub(super) fn of(verifier: &ChainVerifier) -> VerifyReport {
    let last = verifier.last.as_deref().map(ChainHead::of_line);
    let head = last
        .as_ref()
        .and_then(|head| head.as_ref().ok())
        .map(|head| HeadReport {
            seq: head.seq,
            hash: head.hash_hex(),
        });
    let checkpoint = checkpoint(verifier, head.as_ref().map(|head| head.seq));
    let first_break = verifier.first_break.as_ref().map(|(broken, seq)| {
        let (line, reason) = match broken.problem {
            BreakKind::Edited => (
                broken.line - 1,
                "was edited: the line after it does not carry its hash",
            ),
            BreakKind::Gap => (
                broken.line,
                "does not follow the line before it: a line is missing or was added",
            ),
            BreakKind::Unreadable => (broken.line, "is not an audit line"),
            BreakKind::HeadMismatch => (broken.line, "is not the last line the log wrote"),
        };
        FirstBreak {
            kind: broken.problem,
            at: verifier.place(line),
            seq: *seq,
            reason,
        }
    });
    let recoveries = verifier.recoveries();
    let ok = first_break.is_none()
        && !checkpoint.as_ref().is_some_and(CheckpointReport::fails)
        && !recoveries.iter().any(|r| r.lost_lines);
    VerifyReport {
        ok,
        lines: verifier.lines,
        head,
        checkpoint,
        torn_tail: verifier
            .torn_tail
            .as_ref()
            .map(|(segment, bytes)| TornTail {
                segment: segment.clone(),
                bytes: *bytes,
            }),
        recoveries,
        first_break,
    }
}

/// What the checkpoint says of a log whose last line has `last_seq`.
fn checkpoint(verifier: &ChainVerifier, last_seq: Option<u64>) -> Option<CheckpointReport> {
    let checkpoint = match verifier.checkpoint.as_ref()? {
        Err(error) => {
            return Some(CheckpointReport::Unreadable {
                error: error.clone(),
            });
        }
        Ok(checkpoint) => *checkpoint,
    };
    let seq = checkpoint.seq;
    if verifier.first_break.is_some() {
        return Some(CheckpointReport::NotChecked { seq });
    }
    Some(
        match (verifier.at_checkpoint, verifier.first_seq, last_seq) {
            (Some((_, true)), ..) => CheckpointReport::Reached { seq },
            (Some((line, false)), ..) => CheckpointReport::Replaced {
                seq,
                line: verifier.place(line),
            },
            (None, Some(first), _) if seq < first => CheckpointReport::BeforeOldest { seq },
            (None, _, Some(last)) => CheckpointReport::NotReached {
                seq,
                log_ends_at: last,
            },
            (None, _, None) => CheckpointReport::NoLines { seq },
        },
    )
}
