//! `memorysync audit verify`: the hash chain of an audit log checked offline with
//! [`audit::verify`], a piece at a time, and the report: the number of lines, the head, and
//! the first break with its line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use memorysync_pipeline::audit::{self, BreakKind, ChainBreak, ChainHead};

use super::source::Source;

/// How many lines are checked at once: memory stays this many lines, not the whole log.
const PIECE: usize = 10_000;

/// Checks the hash chain of an audit log: every line follows the one before it. Prints the
/// number of lines, the head (last seq and hash) and the first break with its line.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("log").required(true).args(["dir", "config"])))]
pub(crate) struct VerifyArgs {
    /// A directory of `audit-YYYY-MM-DD.jsonl` segments, as `[audit] dir` names it.
    #[arg(long, value_name = "PATH")]
    pub(crate) dir: Option<PathBuf>,
    /// A config file: its `[audit] dir`, or with `store.backend = "redis"` and no dir, the
    /// instance's Redis stream `audit:<instance>` under the store's prefix.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The instance whose Redis audit stream to check (with `--config` on a Redis store);
    /// default `[server] instance`.
    #[arg(long, value_name = "NAME", conflicts_with = "dir")]
    pub(crate) instance: Option<String>,
}

/// 0 when the chain is intact, 1 at a break, 2 when the log cannot be found or read.
pub(crate) fn run(args: VerifyArgs) -> ExitCode {
    let checked = Source::of(&args).and_then(|source| {
        let mut tally = Tally::default();
        source.read(&mut tally)?;
        Ok((source, tally))
    });
    match checked {
        Ok((source, tally)) => {
            let (report, broken) = tally.report(&source.describe());
            print!("{report}");
            ExitCode::from(u8::from(broken))
        }
        Err(message) => {
            eprintln!("memorysync: audit verify: {message}");
            ExitCode::from(2)
        }
    }
}

/// A JSON Lines segment: its file name and the 1-based position of its first line in the log.
#[derive(Debug)]
struct Segment {
    name: String,
    first_line: usize,
}

/// The lines read so far: counted, checked in pieces, the last one kept for the head.
#[derive(Debug, Default)]
pub(super) struct Tally {
    lines: usize,
    last: Option<String>,
    segments: Vec<Segment>,
    /// Lines not checked yet.
    pending: Vec<String>,
    /// The last checked line, checked again at the head of the next piece so that the link
    /// across pieces is checked too.
    carry: Option<String>,
    first_break: Option<ChainBreak>,
}

impl Tally {
    /// The lines after this call come from the segment file `name`.
    pub(super) fn segment(&mut self, name: String) {
        self.segments.push(Segment {
            name,
            first_line: self.lines + 1,
        });
    }

    /// The next line of the log. After a break, lines are only counted.
    pub(super) fn line(&mut self, text: String) {
        self.lines += 1;
        if self.first_break.is_none() {
            self.pending.push(text.clone());
            if self.pending.len() == PIECE {
                self.check_pending();
            }
        }
        self.last = Some(text);
    }

    fn check_pending(&mut self) {
        let checked_before = self.lines - self.pending.len();
        let carried = self.carry.iter().map(String::as_str);
        let piece = carried.chain(self.pending.iter().map(String::as_str));
        if let Err(mut broken) = audit::verify(piece, None) {
            // Back to positions in the whole log. The carried line cannot break: it passed as
            // the last line of the piece before.
            broken.line = checked_before + broken.line - usize::from(self.carry.is_some());
            self.first_break = Some(broken);
        }
        self.carry = self.pending.pop();
        self.pending.clear();
    }

    /// The report, once every line was given, and whether the chain is broken.
    pub(super) fn report(mut self, source: &str) -> (String, bool) {
        if !self.pending.is_empty() && self.first_break.is_none() {
            self.check_pending();
        }
        let mut out = format!("{source}\nlines: {}\n", self.lines);
        let head = match self.last.as_deref().map(ChainHead::of_line) {
            None => "none (no lines)".to_owned(),
            Some(Ok(head)) => format!("seq {}, sha256 {}", head.seq, hex(&head.hash)),
            Some(Err(_)) => "unknown: the last line is not an audit line".to_owned(),
        };
        let _ = writeln!(out, "head: {head}");
        let _ = match &self.first_break {
            None => writeln!(out, "first break: none"),
            Some(broken) => writeln!(out, "first break: {}", self.describe(broken)),
        };
        (out, self.first_break.is_some())
    }

    /// A break told by the line at fault: for an edit, the line whose hash the next line does
    /// not carry.
    fn describe(&self, broken: &ChainBreak) -> String {
        let at = |line: usize| match self.place(line) {
            Some((segment, in_segment)) => format!("line {line} ({segment} line {in_segment})"),
            None => format!("line {line}"),
        };
        match broken.problem {
            BreakKind::Edited => format!(
                "{} was edited: the line after it does not carry its hash",
                at(broken.line - 1)
            ),
            BreakKind::Gap => format!(
                "{} does not follow the line before it: a line is missing or was added",
                at(broken.line)
            ),
            BreakKind::Unreadable => format!("{} is not an audit line", at(broken.line)),
            BreakKind::HeadMismatch => format!("{}: {broken}", at(broken.line)),
        }
    }

    /// The segment of the log's line `line` and its position there.
    fn place(&self, line: usize) -> Option<(&str, usize)> {
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|segment| segment.first_line <= line)?;
        Some((&segment.name, line - segment.first_line + 1))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use memorysync_pipeline::audit::ChainHead;

    use super::{PIECE, Tally, hex};

    /// Chained lines without the audit stage: `seq` and `prev` are all `verify` reads.
    fn chain(n: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::with_capacity(n);
        for seq in 1..=n {
            let prev = match lines.last() {
                Some(line) => hex(&ChainHead::of_line(line).expect("a line").hash),
                None => "0".repeat(64),
            };
            lines.push(format!(
                r#"{{"seq":{seq},"path":"/p{seq}","prev":"{prev}"}}"#
            ));
        }
        lines
    }

    fn tally(segments: &[&[String]]) -> Tally {
        let mut tally = Tally::default();
        for (index, lines) in segments.iter().enumerate() {
            tally.segment(format!("audit-2030-01-0{}.jsonl", index + 1));
            for line in lines.iter() {
                tally.line(line.clone());
            }
        }
        tally
    }

    #[test]
    fn an_intact_chain_across_segments_and_pieces_reports_its_head() {
        let lines = chain(PIECE * 2 + 7);
        let (a, b) = lines.split_at(PIECE + 3);
        let (report, broken) = tally(&[a, b]).report("audit dir x");
        assert!(!broken);
        let head = ChainHead::of_line(&lines[lines.len() - 1]);
        let expected = format!(
            "audit dir x\nlines: {}\nhead: seq {}, sha256 {}\nfirst break: none\n",
            lines.len(),
            lines.len(),
            hex(&head.expect("a head").hash)
        );
        assert_eq!(report, expected);
    }

    #[test]
    fn breaks_are_found_across_pieces_and_named_by_segment_and_line() {
        // An edit in the line that ends the first piece: only the next piece sees it.
        let mut lines = chain(PIECE + 20);
        lines[PIECE - 1] = lines[PIECE - 1].replace("/p", "/q");
        let (a, b) = lines.split_at(5);
        let (report, broken) = tally(&[a, b]).report("x");
        assert!(broken);
        let edited = format!(
            "first break: line {PIECE} (audit-2030-01-02.jsonl line {}) was edited",
            PIECE - 5
        );
        assert!(report.contains(&edited), "{report}");
        assert!(
            report.contains(&format!("lines: {}\n", PIECE + 20)),
            "{report}"
        );

        let mut lines = chain(30);
        lines.remove(11);
        let (report, _) = tally(&[&lines]).report("x");
        assert!(
            report
                .contains("first break: line 12 (audit-2030-01-01.jsonl line 12) does not follow"),
            "{report}"
        );

        let mut lines = chain(3);
        lines.push("not json".to_owned());
        let (report, _) = tally(&[&lines]).report("x");
        assert!(report.contains("line 4 (audit-2030-01-01.jsonl line 4) is not an audit line"));
        assert!(report.contains("head: unknown"), "{report}");
    }

    #[test]
    fn an_empty_log_has_no_head_and_no_break() {
        assert_eq!(
            Tally::default().report("x"),
            (
                "x\nlines: 0\nhead: none (no lines)\nfirst break: none\n".to_owned(),
                false
            )
        );
    }
}
