//! Segment names (one UTC day each) and the end of a segment: its last whole line and any torn
//! bytes after it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::audit::chain::seq_and_prev;
use crate::clock::Timestamp;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// The first bytes read from a segment's end; a line is at most about 3 KB.
const FIRST_WINDOW: u64 = 64 * 1024;

/// The UTC day number of `ts`.
pub(in crate::audit) fn day_of(ts: Timestamp) -> i64 {
    ts.unix_millis().div_euclid(MILLIS_PER_DAY)
}

/// The start of day number `day`.
pub(super) fn day_start(day: i64) -> Timestamp {
    Timestamp::from_unix_millis(day.saturating_mul(MILLIS_PER_DAY))
}

/// `YYYY-MM-DD` of day number `day`.
pub(super) fn day_name(day: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The day number of a segment's file name, if it is one.
pub(in crate::audit) fn segment_day(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    let date = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(date, &format).ok()?;
    Some(
        date.midnight()
            .assume_utc()
            .unix_timestamp()
            .div_euclid(86_400),
    )
}

/// How a segment ends.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SegmentEnd {
    /// Its last whole audit line (ended by a newline, with `seq` and `prev`), without the newline.
    pub(super) last: Option<String>,
    /// Where the bytes after that line start: the segment's length when nothing follows it.
    pub(super) tail_at: u64,
    /// The segment's length.
    pub(super) len: u64,
}

impl SegmentEnd {
    /// Whether bytes that are not a whole audit line follow the last one: a write cut short.
    pub(super) fn is_torn(&self) -> bool {
        self.tail_at < self.len
    }
}

/// Reads `path` from its end, as far back as its last whole audit line: a torn write leaves a
/// part of a line (or, after an operating system crash, zeros) that the chain cannot go on
/// from, and the segment may be far larger than the few lines needed.
pub(super) fn segment_end(path: &Path) -> io::Result<SegmentEnd> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    // A torn tail (zeros after an operating system crash can be gigabytes) holds no newline:
    // it is stepped over in fixed chunks, never read whole, and the search for the last line
    // starts at the last newline.
    let lines_end = after_last_newline(&mut file, len)?;
    let mut window = FIRST_WINDOW;
    loop {
        let start = lines_end.saturating_sub(window);
        let mut bytes = Vec::with_capacity(usize::try_from(lines_end - start).unwrap_or(0));
        file.seek(SeekFrom::Start(start))?;
        (&mut file)
            .take(lines_end - start)
            .read_to_end(&mut bytes)?;
        match last_line_in(&bytes, start == 0) {
            Found::Line { text, end } => {
                return Ok(SegmentEnd {
                    last: Some(text),
                    tail_at: start + end as u64,
                    len,
                });
            }
            Found::Nothing => {
                return Ok(SegmentEnd {
                    last: None,
                    tail_at: 0,
                    len,
                });
            }
            Found::NeedMore => window = window.saturating_mul(4),
        }
    }
}

/// The position just after the last newline of the first `len` bytes of `file`; 0 when there
/// is none. Reads backwards a chunk of [`FIRST_WINDOW`] bytes at a time.
pub(in crate::audit) fn after_last_newline(file: &mut File, len: u64) -> io::Result<u64> {
    let mut chunk = vec![0_u8; usize::try_from(FIRST_WINDOW).unwrap_or(64 * 1024)];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if let Some(newline) = part.iter().rposition(|b| *b == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

enum Found {
    /// A whole line, and the position just after its newline.
    Line { text: String, end: usize },
    /// No whole audit line in the file.
    Nothing,
    /// The window starts inside a line that may be one: read further back.
    NeedMore,
}

/// The last whole audit line in `bytes`, the end of a file; `whole` when `bytes` is the file.
fn last_line_in(bytes: &[u8], whole: bool) -> Found {
    let mut end = bytes.len();
    // Each newline from the last back ends a candidate line.
    while let Some(newline) = bytes[..end].iter().rposition(|b| *b == b'\n') {
        let begin = match bytes[..newline].iter().rposition(|b| *b == b'\n') {
            Some(before) => before + 1,
            None if whole => 0,
            None => return Found::NeedMore,
        };
        if let Ok(text) = std::str::from_utf8(&bytes[begin..newline])
            && seq_and_prev(text).is_some()
        {
            return Found::Line {
                text: text.to_owned(),
                end: newline + 1,
            };
        }
        end = newline;
    }
    if whole {
        Found::Nothing
    } else {
        Found::NeedMore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operating system crash can leave a segment's end as zeros, far larger than its
    /// lines: the last line is found before them, which are stepped over in fixed chunks (16
    /// MiB of sparse zeros here, 256 of them).
    #[test]
    fn the_last_line_is_found_before_megabytes_of_zeros() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("audit-2027-03-10.jsonl");
        let line = r#"{"seq":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
        std::fs::write(&path, format!("{line}\n")).expect("written");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("opened");
        let line_end = line.len() as u64 + 1;
        file.set_len(line_end + (16 << 20)).expect("extended");
        let end = segment_end(&path).expect("read");
        assert_eq!(end.last.as_deref(), Some(line));
        assert_eq!(end.tail_at, line_end);
        assert!(end.is_torn());
    }

    #[test]
    fn day_names_round_trip() {
        let day = day_of(Timestamp::parse_rfc3339("2028-02-29T23:59:59Z").unwrap());
        assert_eq!(day_name(day), "2028-02-29");
        assert_eq!(segment_day(Path::new("audit-2028-02-29.jsonl")), Some(day));
        assert_eq!(segment_day(Path::new("audit-2028-02-30.jsonl")), None);
        assert_eq!(
            segment_day(Path::new("audit-2028-02-29.jsonl.torn-7")),
            None
        );
        assert_eq!(segment_day(Path::new("notes.txt")), None);
        assert_eq!(day_start(day).to_rfc3339(), "2028-02-29T00:00:00Z");
    }

    #[test]
    fn the_end_of_a_segment_is_its_last_whole_line_and_what_follows_is_torn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-2030-01-01.jsonl");
        let a = r#"{"seq":1,"prev":"00"}"#;
        let b = r#"{"seq":2,"prev":"11"}"#;
        let cases: [(String, Option<&str>, usize); 5] = [
            (String::new(), None, 0),
            (format!("{a}\n{b}\n"), Some(b), a.len() + b.len() + 2),
            (
                format!("{a}\n{b}\n{{\"seq\":3,\"pr"),
                Some(b),
                a.len() + b.len() + 2,
            ),
            (
                format!("{a}\n{b}\n\0\0\0\0"),
                Some(b),
                a.len() + b.len() + 2,
            ),
            (format!("{a}\nnot a line\n"), Some(a), a.len() + 1),
        ];
        for (text, last, tail_at) in cases {
            std::fs::write(&path, &text).unwrap();
            let end = segment_end(&path).unwrap();
            assert_eq!(end.last.as_deref(), last, "{text:?}");
            assert_eq!(end.tail_at, tail_at as u64, "{text:?}");
            assert_eq!(end.is_torn(), tail_at < text.len(), "{text:?}");
        }
        // Far more than the first window of torn bytes: read further back.
        let torn = "x".repeat(200 * 1024);
        std::fs::write(&path, format!("{a}\n{torn}")).unwrap();
        let end = segment_end(&path).unwrap();
        assert_eq!(
            (end.last.as_deref(), end.tail_at),
            (Some(a), a.len() as u64 + 1)
        );
        std::fs::write(&path, &torn).unwrap();
        assert_eq!(segment_end(&path).unwrap().last, None);
    }
}
