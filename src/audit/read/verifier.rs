//! The lines of an audit log as they are read, oldest first: counted, checked in pieces with
//! [`verify`](crate::audit::verify), the recoveries the writer declared listed, the checkpoint
//! looked for. Memory stays one piece of lines, not the whole log.

use std::fmt;

use super::report::{self, LinePlace, Recovery, VerifyReport};
use crate::audit::{self, BreakKind, ChainBreak, ChainHead};

/// The text by which a line of a [`RECOVERY_METHOD`](crate::audit::RECOVERY_METHOD) event is found without parsing every line.
const RECOVERY_MARK: &str = r#""method":"RECOVERY""#;

/// A JSON Lines segment: its file name and the 1-based position of its first line in the log.
#[derive(Debug)]
pub(super) struct Segment {
    pub(super) name: String,
    pub(super) first_line: usize,
}

/// Verifies an audit log handed to it a line at a time, oldest first, and reports as
/// [`AuditSource::verify`](super::AuditSource::verify) does: for logs read some other way.
///
/// Give it the head checkpoint first ([`checkpoint`](Self::checkpoint)), then, for each JSON
/// Lines segment, its name ([`segment`](Self::segment)) and its lines ([`line`](Self::line)),
/// and bytes after the newest segment's last newline ([`torn_tail`](Self::torn_tail)); then
/// [`finish`](Self::finish). Lines are checked [`ChainVerifier::PIECE`] at a time; after the first
/// break they are only counted.
#[derive(Default)]
pub struct ChainVerifier {
    pub(super) lines: usize,
    pub(super) last: Option<String>,
    pub(super) segments: Vec<Segment>,
    /// Lines not checked yet.
    pending: Vec<String>,
    /// The last checked line, checked again at the head of the next piece so that the link
    /// across pieces is checked too.
    carry: Option<String>,
    /// The first break, and the `seq` of the line at fault when it has one.
    pub(super) first_break: Option<(ChainBreak, Option<u64>)>,
    /// The `seq` of the log's first line.
    pub(super) first_seq: Option<u64>,
    /// The checkpoint read before the lines (`Err`: it could not be read, and why).
    pub(super) checkpoint: Option<Result<ChainHead, String>>,
    /// The line at the checkpoint's `seq`, and whether it is the line the checkpoint names.
    pub(super) at_checkpoint: Option<(usize, bool)>,
    pub(super) recoveries: Vec<(usize, String)>,
    /// Bytes after the last newline of the newest segment: its name and their count.
    pub(super) torn_tail: Option<(String, usize)>,
}

impl fmt::Debug for ChainVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("lines", &self.lines)
            .field("segments", &self.segments.len())
            .field("first_break", &self.first_break)
            .finish_non_exhaustive()
    }
}

impl ChainVerifier {
    /// How many lines are checked at once: memory stays this many lines, not the whole log.
    pub const PIECE: usize = 10_000;

    /// Nothing read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The log's checkpoint, read before its lines (the writer moves it after writing them):
    /// `None` when there is none, `Err` with why when it could not be read.
    pub fn checkpoint(&mut self, checkpoint: Option<Result<ChainHead, String>>) {
        self.checkpoint = checkpoint;
    }

    /// The lines after this call come from the segment file `name`.
    pub fn segment(&mut self, name: String) {
        self.segments.push(Segment {
            name,
            first_line: self.lines + 1,
        });
    }

    /// `bytes` bytes follow the last newline of the newest segment: not a line (yet).
    pub fn torn_tail(&mut self, bytes: usize) {
        let name = self
            .segments
            .last()
            .map_or_else(String::new, |s| s.name.clone());
        self.torn_tail = Some((name, bytes));
    }

    /// The next line of the log. After a break, lines are only counted.
    pub fn line(&mut self, text: String) {
        self.lines += 1;
        if self.lines == 1 {
            self.first_seq = ChainHead::of_line(&text).ok().map(|head| head.seq);
        }
        if text.contains(RECOVERY_MARK)
            && let Some(detail) = recovery_detail(&text)
        {
            self.recoveries.push((self.lines, detail));
        }
        if self.first_break.is_none() {
            self.pending.push(text.clone());
            if self.pending.len() == Self::PIECE {
                self.check_pending();
            }
        }
        self.last = Some(text);
    }

    /// The report, once every line was given.
    pub fn finish(mut self) -> VerifyReport {
        self.check_pending();
        report::of(&self)
    }

    /// Checks the lines not checked yet; called with every full piece, and at the end.
    fn check_pending(&mut self) {
        if self.pending.is_empty() || self.first_break.is_some() {
            return;
        }
        let checked_before = self.lines - self.pending.len();
        let carried = usize::from(self.carry.is_some());
        let piece = || {
            self.carry
                .iter()
                .map(String::as_str)
                .chain(self.pending.iter().map(String::as_str))
        };
        if let Err(mut broken) = audit::verify(piece(), None) {
            let at_fault = piece()
                .nth(broken.line - 1)
                .and_then(|line| ChainHead::of_line(line).ok());
            let seq = match broken.problem {
                BreakKind::Edited => at_fault.and_then(|head| head.seq.checked_sub(1)),
                BreakKind::Gap | BreakKind::HeadMismatch => at_fault.map(|head| head.seq),
                BreakKind::Unreadable => None,
            };
            // Back to positions in the whole log. The carried line cannot break: it passed as
            // the last line of the piece before.
            broken.line = checked_before + broken.line - carried;
            self.first_break = Some((broken, seq));
        } else {
            self.look_for_checkpoint(checked_before);
        }
        self.carry = self.pending.pop();
        self.pending.clear();
    }

    /// In an unbroken chain line `n` has `seq` first + n - 1: the checkpoint's line is found by
    /// its place, and hashed alone.
    fn look_for_checkpoint(&mut self, checked_before: usize) {
        let (Some(Ok(checkpoint)), Some(first)) = (&self.checkpoint, self.first_seq) else {
            return;
        };
        let Some(offset) = checkpoint.seq.checked_sub(first) else {
            return;
        };
        let Some(position) = usize::try_from(offset).ok().and_then(|o| o.checked_add(1)) else {
            return;
        };
        if let Some(index) = position.checked_sub(checked_before + 1)
            && let Some(line) = self.pending.get(index)
        {
            let same = ChainHead::of_line(line).ok() == Some(*checkpoint);
            self.at_checkpoint = Some((position, same));
        }
    }

    /// The log's line `line`, with its segment and its line there when the log has segments.
    pub(super) fn place(&self, line: usize) -> LinePlace {
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|segment| segment.first_line <= line);
        LinePlace {
            line,
            segment: segment.map(|s| s.name.clone()),
            line_in_segment: segment.map(|s| line - s.first_line + 1),
        }
    }

    /// The declared recoveries, each with its place.
    pub(super) fn recoveries(&self) -> Vec<Recovery> {
        self.recoveries
            .iter()
            .map(|(line, detail)| Recovery::new(self.place(*line), detail.clone()))
            .collect()
    }
}

/// The `detail` of a line the server wrote as a recovery event, else `None`. The method alone
/// does not say so: a client may send any method, and the audit stage records it as sent. A
/// recovery event is the one line with that method, path `/audit`, status 200,
/// outcome `error` and a `detail`, which no request's line has (API calls carry no `detail`,
/// admin calls are under `/admin/`).
fn recovery_detail(text: &str) -> Option<String> {
    let event: serde_json::Value = serde_json::from_str(text).ok()?;
    let is_recovery = event["method"] == crate::audit::RECOVERY_METHOD
        && event["path"] == crate::audit::RECOVERY_PATH
        && event["status"] == 200
        && event["outcome"] == "error";
    is_recovery
        .then(|| event["detail"].as_str().map(str::to_owned))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::RECOVERY_METHOD;

    #[test]
    fn a_request_sent_with_the_recovery_method_is_no_recovery() {
        // What the audit stage writes for `RECOVERY /audit` from a client: refused, no detail.
        let forged = r#"{"ts":"2027-01-15T08:00:00Z","request_id":"r","method":"RECOVERY","path":"/audit","status":401,"outcome":"unauthenticated","key_id":null,"project":null,"environment":null,"client_ip":"203.0.113.9","user_agent":null,"latency_us":1,"seq":3,"prev":"00"}"#;
        assert_eq!(recovery_detail(forged), None);
        let served = forged.replace(
            r#""status":401,"outcome":"unauthenticated""#,
            r#""status":200,"outcome":"allowed""#,
        );
        assert_eq!(recovery_detail(&served), None);
        let written = forged
            .replace(
                r#""status":401,"outcome":"unauthenticated""#,
                r#""status":200,"outcome":"error""#,
            )
            .replace(r#""seq":3"#, r#""detail":"torn tail moved aside","seq":3"#);
        assert_eq!(
            recovery_detail(&written).as_deref(),
            Some("torn tail moved aside")
        );
    }

    #[test]
    fn the_recovery_mark_is_the_method_as_the_writer_writes_it() {
        assert_eq!(RECOVERY_MARK, format!(r#""method":"{RECOVERY_METHOD}""#));
    }
}
