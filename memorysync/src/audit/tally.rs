//! The lines of an audit log as they are read: counted, checked in pieces with
//! [`audit::verify`], the recoveries the writer declared listed, the checkpoint looked for.

use memorysync_pipeline::audit::{self, ChainBreak, ChainHead, ENDS_BEFORE_CHECKPOINT};

/// How many lines are checked at once: memory stays this many lines, not the whole log.
pub(super) const PIECE: usize = 10_000;

/// The text by which a line of a `RECOVERY` event is found without parsing every line.
const RECOVERY_MARK: &str = r#""method":"RECOVERY""#;

/// A JSON Lines segment: its file name and the 1-based position of its first line in the log.
#[derive(Debug)]
struct Segment {
    name: String,
    first_line: usize,
}

/// A `RECOVERY` event: where it is, and what the writer said it repaired.
#[derive(Debug)]
pub(super) struct Recovery {
    pub(super) line: usize,
    pub(super) detail: String,
}

impl Recovery {
    /// Whether it declares lines lost: the log had ended before its checkpoint.
    pub(super) fn lost_lines(&self) -> bool {
        self.detail.starts_with(ENDS_BEFORE_CHECKPOINT)
    }
}

/// The lines read so far: counted, checked in pieces, the last one kept for the head.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) lines: usize,
    pub(super) last: Option<String>,
    segments: Vec<Segment>,
    /// Lines not checked yet.
    pending: Vec<String>,
    /// The last checked line, checked again at the head of the next piece so that the link
    /// across pieces is checked too.
    carry: Option<String>,
    pub(super) first_break: Option<ChainBreak>,
    /// The `seq` of the log's first line.
    pub(super) first_seq: Option<u64>,
    /// The checkpoint read before the lines (`Err`: it could not be read).
    pub(super) checkpoint: Option<Result<ChainHead, String>>,
    /// The line at the checkpoint's `seq`, and whether it is the line the checkpoint names.
    pub(super) at_checkpoint: Option<(usize, bool)>,
    pub(super) recoveries: Vec<Recovery>,
    /// Bytes after the last newline of the newest segment: its name and their count.
    pub(super) torn_tail: Option<(String, usize)>,
}

impl Tally {
    /// The log's checkpoint, read before its lines (the writer moves it after writing them).
    pub(super) fn checkpoint(&mut self, checkpoint: Option<Result<ChainHead, String>>) {
        self.checkpoint = checkpoint;
    }

    /// The lines after this call come from the segment file `name`.
    pub(super) fn segment(&mut self, name: String) {
        self.segments.push(Segment {
            name,
            first_line: self.lines + 1,
        });
    }

    /// `bytes` bytes follow the last newline of the newest segment: not a line (yet).
    pub(super) fn torn_tail(&mut self, bytes: usize) {
        let name = self
            .segments
            .last()
            .map_or_else(String::new, |s| s.name.clone());
        self.torn_tail = Some((name, bytes));
    }

    /// The next line of the log. After a break, lines are only counted.
    pub(super) fn line(&mut self, text: String) {
        self.lines += 1;
        if self.lines == 1 {
            self.first_seq = ChainHead::of_line(&text).ok().map(|head| head.seq);
        }
        if text.contains(RECOVERY_MARK) {
            let detail = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|event| event["detail"].as_str().map(str::to_owned));
            self.recoveries.push(Recovery {
                line: self.lines,
                detail: detail.unwrap_or_default(),
            });
        }
        if self.first_break.is_none() {
            self.pending.push(text.clone());
            if self.pending.len() == PIECE {
                self.check_pending();
            }
        }
        self.last = Some(text);
    }

    /// Checks the lines not checked yet; called with every full piece, and at the end.
    pub(super) fn check_pending(&mut self) {
        if self.pending.is_empty() || self.first_break.is_some() {
            return;
        }
        let checked_before = self.lines - self.pending.len();
        let carried = self.carry.iter().map(String::as_str);
        let piece = carried.chain(self.pending.iter().map(String::as_str));
        if let Err(mut broken) = audit::verify(piece, None) {
            // Back to positions in the whole log. The carried line cannot break: it passed as
            // the last line of the piece before.
            broken.line = checked_before + broken.line - usize::from(self.carry.is_some());
            self.first_break = Some(broken);
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

    /// The segment of the log's line `line` and its position there.
    pub(super) fn place(&self, line: usize) -> Option<(&str, usize)> {
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|segment| segment.first_line <= line)?;
        Some((&segment.name, line - segment.first_line + 1))
    }

    /// `line N`, with its segment and its line there when the log has segments.
    pub(super) fn at(&self, line: usize) -> String {
        match self.place(line) {
            Some((segment, in_segment)) => format!("line {line} ({segment} line {in_segment})"),
            None => format!("line {line}"),
        }
    }
}
