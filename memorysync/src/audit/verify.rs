//! `memorysync audit verify`: the hash chain of an audit log checked offline by the library
//! ([`AuditSource::verify`](memorysync_pipeline::audit::AuditSource::verify), a piece at a
//! time), and the report: the number of lines, the head, the head checkpoint and whether the
//! log reaches it, a torn tail, the recoveries the writer declared, and the first break with
//! its line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use memorysync_pipeline::audit::{CheckpointReport, VerifyReport};

use super::source::Source;

/// Checks the hash chain of an audit log: every line follows the one before it, and the log
/// reaches its head checkpoint. Prints the number of lines, the head (last seq and hash), the
/// checkpoint, a torn tail, the recoveries the server declared at its starts, and the first
/// break with its line.
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

/// 0 when the chain is intact and reaches its checkpoint, 1 at a break, a log short of its
/// checkpoint or a recovery that declared lines lost, 2 when the log cannot be found or read.
pub(crate) fn run(args: VerifyArgs) -> ExitCode {
    let checked = Source::of(&args).and_then(|source| Ok((source.verify()?, source)));
    match checked {
        Ok((verified, source)) => {
            print!("{}", report(&verified, &source.describe()));
            ExitCode::from(u8::from(!verified.ok))
        }
        Err(message) => {
            eprintln!("memorysync: audit verify: {message}");
            ExitCode::from(2)
        }
    }
}

/// The report's text: the source, then one line per finding.
pub(super) fn report(verified: &VerifyReport, source: &str) -> String {
    let mut out = format!("{source}\nlines: {}\n", verified.lines);
    let head = match (&verified.head, verified.lines) {
        (Some(head), _) => format!("seq {}, sha256 {}", head.seq, head.hash),
        (None, 0) => "none (no lines)".to_owned(),
        (None, _) => "unknown: the last line is not an audit line".to_owned(),
    };
    let _ = writeln!(out, "head: {head}");
    let _ = writeln!(
        out,
        "checkpoint: {}",
        checkpoint(verified.checkpoint.as_ref())
    );
    if let Some(torn) = &verified.torn_tail {
        let _ = writeln!(
            out,
            "torn tail: {} bytes after the last line of {} (a write in progress, or \
             cut short by a crash: the next start moves them aside)",
            torn.bytes, torn.segment
        );
    }
    let _ = match verified.recoveries.len() {
        0 => writeln!(out, "recoveries: none"),
        n => writeln!(out, "recoveries: {n}"),
    };
    for recovery in &verified.recoveries {
        let _ = writeln!(out, "  {}: {}", recovery.at, recovery.detail);
    }
    let _ = match &verified.first_break {
        None => writeln!(out, "first break: none"),
        Some(broken) => writeln!(out, "first break: {} {}", broken.at, broken.reason),
    };
    out
}

/// What the checkpoint says of the log.
fn checkpoint(checkpoint: Option<&CheckpointReport>) -> String {
    match checkpoint {
        None => "none".to_owned(),
        Some(CheckpointReport::Unreadable { error }) => format!("unreadable: {error}"),
        Some(CheckpointReport::NotChecked { seq }) => {
            format!("seq {seq}, not checked: the chain is broken")
        }
        Some(CheckpointReport::Reached { seq }) => format!("seq {seq}, reached"),
        Some(CheckpointReport::Replaced { seq, line }) => {
            format!("seq {seq}, but {line} is not the line it names: edited or replaced")
        }
        Some(CheckpointReport::BeforeOldest { seq }) => {
            format!("seq {seq}, before the oldest line (purged by retention): not checked")
        }
        Some(CheckpointReport::NotReached { seq, log_ends_at }) => {
            format!("seq {seq}, not reached: the log ends at seq {log_ends_at}: lines were cut off")
        }
        Some(CheckpointReport::NoLines { seq }) => {
            format!("seq {seq}, but the log has no lines: they were removed")
        }
        // A finding this binary does not know yet: said as the library words it.
        Some(other) => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use memorysync_pipeline::audit::{ChainHead, ChainVerifier};

    use super::report;

    const PIECE: usize = ChainVerifier::PIECE;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The report of everything `tally` was given, and whether it fails the check.
    fn report_of(tally: ChainVerifier, source: &str) -> (String, bool) {
        let verified = tally.finish();
        (report(&verified, source), !verified.ok)
    }

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

    fn tally(segments: &[&[String]]) -> ChainVerifier {
        let mut tally = ChainVerifier::new();
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
        let (report, broken) = report_of(tally(&[a, b]), "audit dir x");
        assert!(!broken);
        let head = ChainHead::of_line(&lines[lines.len() - 1]);
        let expected = format!(
            "audit dir x\nlines: {}\nhead: seq {}, sha256 {}\ncheckpoint: none\nrecoveries: none\nfirst break: none\n",
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
        let (report, broken) = report_of(tally(&[a, b]), "x");
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
        let (report, _) = report_of(tally(&[&lines]), "x");
        assert!(
            report
                .contains("first break: line 12 (audit-2030-01-01.jsonl line 12) does not follow"),
            "{report}"
        );

        let mut lines = chain(3);
        lines.push("not json".to_owned());
        let (report, _) = report_of(tally(&[&lines]), "x");
        assert!(report.contains("line 4 (audit-2030-01-01.jsonl line 4) is not an audit line"));
        assert!(report.contains("head: unknown"), "{report}");
    }

    #[test]
    fn an_empty_log_has_no_head_and_no_break() {
        assert_eq!(
            report_of(ChainVerifier::new(), "x"),
            (
                "x\nlines: 0\nhead: none (no lines)\ncheckpoint: none\nrecoveries: none\nfirst break: none\n"
                    .to_owned(),
                false
            )
        );
    }

    /// The tally of `lines` in one segment, with `checkpoint` read before them.
    fn checked(lines: &[String], checkpoint: Option<ChainHead>) -> (String, bool) {
        let mut tally = ChainVerifier::new();
        tally.checkpoint(checkpoint.map(Ok));
        tally.segment("audit-2030-01-01.jsonl".to_owned());
        for line in lines {
            tally.line(line.clone());
        }
        report_of(tally, "x")
    }

    fn head_of(line: &str) -> ChainHead {
        ChainHead::of_line(line).expect("a line")
    }

    #[test]
    fn the_checkpoint_is_found_by_its_place_even_pieces_later_and_a_log_short_of_it_fails() {
        let lines = chain(PIECE + 30);
        // The last line, a line in the second piece, one in the first: each reached.
        for at in [PIECE + 29, PIECE + 2, 7] {
            let (report, broken) = checked(&lines, Some(head_of(&lines[at])));
            assert!(!broken, "{report}");
            assert!(
                report.contains(&format!("checkpoint: seq {}, reached\n", at + 1)),
                "{report}"
            );
        }
        // Cut off: the log ends before the checkpoint.
        let checkpoint = head_of(&lines[PIECE + 29]);
        let (report, broken) = checked(&lines[..PIECE + 25], Some(checkpoint));
        assert!(broken);
        let cut = format!(
            "checkpoint: seq {}, not reached: the log ends at seq {}: lines were cut off\n",
            PIECE + 30,
            PIECE + 25
        );
        assert!(report.contains(&cut), "{report}");
        assert!(report.ends_with("first break: none\n"), "{report}");
        // The line at the checkpoint's place is another.
        let other = ChainHead {
            seq: 5,
            hash: [7; 32],
        };
        let (report, broken) = checked(&lines[..10], Some(other));
        assert!(broken);
        assert!(
            report.contains("checkpoint: seq 5, but line 5 (audit-2030-01-01.jsonl line 5) is not the line it names"),
            "{report}"
        );
        // No lines at all, against a checkpoint.
        let (report, broken) = checked(&[], Some(checkpoint));
        assert!(
            broken && report.contains("the log has no lines"),
            "{report}"
        );
        // Before the oldest line: retention purged it, nothing to check.
        let (report, broken) = checked(&lines[10..20], Some(head_of(&lines[3])));
        assert!(
            !broken && report.contains("before the oldest line"),
            "{report}"
        );
    }

    #[test]
    fn recoveries_are_listed_and_only_one_that_lost_lines_fails_the_check() {
        let mut lines = chain(3);
        let torn = r#""method":"RECOVERY","path":"/audit","status":200,"outcome":"error","detail":"torn_tail_bytes=27 moved_to=a.torn-9 resumed_after_seq=3""#;
        let prev = hex(&head_of(&lines[2]).hash);
        lines.push(format!(r#"{{"seq":4,{torn},"prev":"{prev}"}}"#));
        let (report, broken) = checked(&lines, None);
        assert!(!broken, "{report}");
        assert!(
            report.contains("recoveries: 1\n  line 4 (audit-2030-01-01.jsonl line 4): torn_tail_bytes=27 moved_to=a.torn-9 resumed_after_seq=3\n"),
            "{report}"
        );
        let cut = r#""method":"RECOVERY","path":"/audit","status":200,"outcome":"error","detail":"log_ends_before_checkpoint checkpoint_seq=9 checkpoint_sha256=ab log_ends_at_seq=4 resumed_after_seq=4""#;
        let prev = hex(&head_of(&lines[3]).hash);
        lines.push(format!(r#"{{"seq":5,{cut},"prev":"{prev}"}}"#));
        let (report, broken) = checked(&lines, None);
        assert!(broken, "{report}");
        assert!(report.contains("recoveries: 2\n"), "{report}");
    }
}
