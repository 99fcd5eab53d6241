//! The hash chain: each written line carries the SHA-256 of the line before it, so a removed or
//! edited line breaks the chain where it was.

use std::fmt;

use serde::Serialize;
use serde::ser::SerializeStruct;
use sha2::{Digest, Sha256};

use super::AuditEvent;
use crate::clock::Timestamp;

/// An event as written: one JSON line (without its newline), its place and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainedLine {
    /// 1 for the first event ever written, then one more per event.
    pub seq: u64,
    /// The time the chain filed the line at, for segmenting and retention: the event's time, or
    /// the line before's when that is later (a request that started before the one chained
    /// before it), so that lines are filed in the order of the chain, across midnight too.
    pub ts: Timestamp,
    /// The JSON text: the event's fields plus `seq` and `prev`.
    pub line: String,
    /// SHA-256 of `line`.
    pub hash: [u8; 32],
}

impl ChainedLine {
    /// The chain's end once this line is written.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// The end of a chain: the last sequence number and the hash of the last line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChainHead {
    /// The last line's `seq` (0 before any).
    pub seq: u64,
    /// The last line's hash (zeros before any).
    pub hash: [u8; 32],
}

impl ChainHead {
    /// The head a chain has when `line` is its last line: for sinks resuming after a restart.
    ///
    /// # Errors
    /// When the line is not an audit line.
    pub fn of_line(line: &str) -> std::io::Result<ChainHead> {
        #[derive(serde::Deserialize)]
        struct Seq {
            seq: u64,
        }
        let seq = serde_json::from_str::<Seq>(line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
            .seq;
        Ok(ChainHead {
            seq,
            hash: Sha256::digest(line.as_bytes()).into(),
        })
    }

    /// Chains `event` after this head and moves the head to it.
    pub(crate) fn append(&mut self, event: &AuditEvent) -> ChainedLine {
        let seq = self.seq + 1;
        let line = serde_json::to_string(&Line {
            seq,
            event,
            prev: Hex(&self.hash),
        })
        .unwrap_or_default();
        let hash: [u8; 32] = Sha256::digest(line.as_bytes()).into();
        *self = ChainHead { seq, hash };
        ChainedLine {
            seq,
            ts: event.ts,
            line,
            hash,
        }
    }
}

/// The writer's end of a chain: its head, and the time its last line was filed at.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Chain {
    pub(crate) head: ChainHead,
    filed: Timestamp,
}

impl Chain {
    /// A chain that goes on after `head`, filing no line before `filed_from`.
    pub(crate) fn resume(head: ChainHead, filed_from: Timestamp) -> Self {
        Chain {
            head,
            filed: filed_from,
        }
    }

    /// Chains `event` after the head and files it at its own time, or at the last line's when
    /// that is later: events are chained in the order they finish but stamped with the time
    /// they started, so filing by the stamp alone would put a line before the one it follows.
    pub(crate) fn append(&mut self, event: &AuditEvent) -> ChainedLine {
        let mut line = self.head.append(event);
        self.filed = self.filed.max(line.ts);
        line.ts = self.filed;
        line
    }
}

/// The written form: `seq` first, the event's fields, `prev` last.
struct Line<'a> {
    seq: u64,
    event: &'a AuditEvent,
    prev: Hex<'a>,
}

impl Serialize for Line<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.event;
        let mut line = serializer.serialize_struct("AuditLine", 15)?;
        line.serialize_field("seq", &self.seq)?;
        line.serialize_field("ts", &e.ts.to_rfc3339())?;
        line.serialize_field("request_id", &e.request_id)?;
        line.serialize_field("method", &e.method)?;
        line.serialize_field("path", &e.path)?;
        line.serialize_field("status", &e.status)?;
        line.serialize_field("outcome", &e.outcome)?;
        line.serialize_field("key_id", &e.key_id)?;
        line.serialize_field("project", &e.project)?;
        line.serialize_field("environment", &e.environment)?;
        line.serialize_field("client_ip", &e.client_ip)?;
        line.serialize_field("user_agent", &e.user_agent)?;
        line.serialize_field("latency_us", &e.latency_us)?;
        if let Some(detail) = &e.detail {
            line.serialize_field("detail", detail)?;
        }
        line.serialize_field("prev", &self.prev)?;
        line.end()
    }
}

struct Hex<'a>(&'a [u8; 32]);

impl Serialize for Hex<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0u8; 64];
        // 32 bytes always fit 64 digits.
        let text =
            base16ct::lower::encode_str(self.0, &mut text).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

/// Where a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    /// The 1-based position of the first line that does not follow from the one before.
    pub line: usize,
    /// What is wrong there.
    pub problem: BreakKind,
}

/// What breaks a chain; serialised in snake case, e.g. `head_mismatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The line is not an audit line (not JSON, or no `seq` / `prev`).
    Unreadable,
    /// `seq` does not follow the line before: a line was removed (or added).
    Gap,
    /// `prev` is not the hash of the line before: that line was edited.
    Edited,
    /// The last line is not the head the log recorded: it was edited or lines were cut off.
    HeadMismatch,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            BreakKind::Unreadable => "is not an audit line",
            BreakKind::Gap => "does not follow the line before it (a line is missing)",
            BreakKind::Edited => "does not match the hash of the line before it (an edit)",
            BreakKind::HeadMismatch => "is not the last line the log wrote (edited or truncated)",
        };
        write!(f, "audit line {} {what}", self.line)
    }
}

impl std::error::Error for ChainBreak {}

/// Checks that `lines` form one chain, and, when `head` is given, that it ends at that head.
/// The first line's `prev` is taken as given: retention removes the lines before it.
/// Returns the number of lines checked.
pub fn verify<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    head: Option<ChainHead>,
) -> Result<usize, ChainBreak> {
    let mut previous: Option<ChainHead> = None;
    let mut count = 0;
    for (index, line) in lines.into_iter().enumerate() {
        let position = index + 1;
        let broken = |problem| ChainBreak {
            line: position,
            problem,
        };
        let (seq, prev) = seq_and_prev(line).ok_or(broken(BreakKind::Unreadable))?;
        if let Some(before) = previous {
            if seq != before.seq + 1 {
                return Err(broken(BreakKind::Gap));
            }
            let mut hex = [0u8; 64];
            if base16ct::lower::encode_str(&before.hash, &mut hex).ok() != Some(prev.as_str()) {
                return Err(broken(BreakKind::Edited));
            }
        }
        previous = Some(ChainHead {
            seq,
            hash: Sha256::digest(line.as_bytes()).into(),
        });
        count = position;
    }
    if let Some(head) = head
        && head.seq > 0
        && previous != Some(head)
    {
        return Err(ChainBreak {
            line: count.max(1),
            problem: BreakKind::HeadMismatch,
        });
    }
    Ok(count)
}

pub(crate) fn seq_and_prev(line: &str) -> Option<(u64, String)> {
    #[derive(serde::Deserialize)]
    struct Link {
        seq: u64,
        prev: String,
    }
    let link: Link = serde_json::from_str(line).ok()?;
    Some((link.seq, link.prev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Outcome;

    fn event(n: u16) -> AuditEvent {
        AuditEvent {
            ts: Timestamp::from_unix_secs(1_800_000_000),
            request_id: format!("req_{n}"),
            method: "GET".into(),
            path: "/v1/memories".into(),
            status: 200,
            outcome: Outcome::Allowed,
            key_id: None,
            project: None,
            environment: None,
            client_ip: None,
            user_agent: None,
            latency_us: u64::from(n),
            detail: None,
        }
    }

    fn chain(n: u16) -> (Vec<String>, ChainHead) {
        let mut head = ChainHead::default();
        let lines = (0..n).map(|i| head.append(&event(i)).line).collect();
        (lines, head)
    }

    #[test]
    fn an_intact_chain_verifies_to_its_head() {
        let (lines, head) = chain(5);
        assert_eq!(verify(lines.iter().map(String::as_str), Some(head)), Ok(5));
        assert!(lines[0].starts_with(r#"{"seq":1,"ts":"#), "{}", lines[0]);
    }

    #[test]
    fn a_removed_line_is_a_gap_and_an_edit_is_found() {
        let (mut lines, head) = chain(5);
        let removed: Vec<_> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, l)| l.as_str())
            .collect();
        assert_eq!(
            verify(removed, None).unwrap_err(),
            ChainBreak {
                line: 3,
                problem: BreakKind::Gap
            }
        );
        lines[1] = lines[1].replace("req_1", "req_X");
        let edited = verify(lines.iter().map(String::as_str), Some(head)).unwrap_err();
        assert_eq!(
            edited,
            ChainBreak {
                line: 3,
                problem: BreakKind::Edited
            }
        );
    }

    #[test]
    fn an_edited_or_cut_last_line_is_found_with_the_head() {
        let (mut lines, head) = chain(3);
        lines[2] = lines[2].replace("req_2", "req_Y");
        assert_eq!(
            verify(lines.iter().map(String::as_str), Some(head))
                .unwrap_err()
                .problem,
            BreakKind::HeadMismatch
        );
        let (lines, head) = chain(3);
        assert_eq!(
            verify(lines[..2].iter().map(String::as_str), Some(head))
                .unwrap_err()
                .problem,
            BreakKind::HeadMismatch
        );
    }
}
