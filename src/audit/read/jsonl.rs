//! A JSON Lines directory read back: queried from the newest segment's end backwards, verified
//! from the oldest segment's start.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::backward::BackwardLines;
use super::cursor::Position;
use super::query::{Filter, Next, Page};
use super::{AuditCursor, AuditPage, AuditReadError, ChainVerifier, VerifyReport};
use crate::audit::JsonLinesSink;
use crate::audit::jsonl::segments::{after_last_newline, day_of, segment_day};

/// One page of `dir`'s lines, newest first.
///
/// A segment holds the lines filed on its UTC day, so the scan starts at the segment of the
/// day the query's `to` allows and stops before a segment whose whole day is before `from`.
pub(super) fn query(dir: &Path, filter: Filter<'_>) -> Result<AuditPage, AuditReadError> {
    let segments = segments(dir)?;
    // How many segments are left to read (the newest of them first), and where in the first
    // one to start: `None` for its end.
    let (mut left, mut end) = match filter.cursor() {
        Some(AuditCursor(Position::JsonLines { day, offset })) => {
            let left = segments.partition_point(|(d, _)| *d <= day);
            // The cursor's segment may be gone (retention): then the older ones, from their ends.
            let here = left > 0 && segments[left - 1].0 == day;
            (left, here.then_some(offset))
        }
        Some(_) => return Err(another_kind()),
        None => {
            let until = filter.filed_until().map(day_of);
            let left = segments.partition_point(|(d, _)| until.is_none_or(|u| *d <= u));
            (left, None)
        }
    };
    let from_day = filter.from().map(day_of);
    let mut page = Page::new(filter);
    while let Some((day, path)) = left.checked_sub(1).and_then(|i| segments.get(i)) {
        // Every line of an earlier day was filed, and so stamped, before `from`.
        if from_day.is_some_and(|from| *day < from) {
            break;
        }
        let cannot = |e: io::Error| AuditReadError::io(path.display().to_string(), e);
        let from_cursor = end.is_some();
        let Some(mut lines) = open_backwards(path, end.take()).map_err(|e| {
            if from_cursor && e.kind() == io::ErrorKind::InvalidInput {
                AuditReadError::InvalidCursor("it points at no line of this audit log")
            } else {
                cannot(e)
            }
        })?
        else {
            left -= 1;
            continue;
        };
        while let Some(line) = lines.next_line().map_err(cannot)? {
            if page.line(line.text.as_deref().unwrap_or_default()) == Next::Stop {
                let at = Position::JsonLines {
                    day: *day,
                    offset: line.start,
                };
                return Ok(page.finish(Some(AuditCursor(at))));
            }
        }
        left -= 1;
    }
    Ok(page.finish(None))
}

/// The segments under `dir` with their days, oldest first.
fn segments(dir: &Path) -> Result<Vec<(i64, PathBuf)>, AuditReadError> {
    let listed = JsonLinesSink::reader(dir)
        .segments()
        .map_err(|e| AuditReadError::io(format!("audit dir {}", dir.display()), e))?;
    Ok(listed
        .into_iter()
        .filter_map(|path| Some((segment_day(&path)?, path)))
        .collect())
}

/// The lines of `path` before `end`, or before its last newline; `None` when it is gone
/// (removed by retention since it was listed).
fn open_backwards(path: &Path, end: Option<u64>) -> io::Result<Option<BackwardLines>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let end = match end {
        Some(end) => end,
        // Bytes after the last newline are a line being written, or torn: not yet a line.
        None => {
            let len = file.metadata()?.len();
            after_last_newline(&mut file, len)?
        }
    };
    BackwardLines::new(file, end).map(Some)
}

fn another_kind() -> AuditReadError {
    AuditReadError::InvalidCursor("it is a cursor of another kind of audit log")
}

/// The chain of `dir` verified, oldest segment first, the head checkpoint read before the
/// lines (the writer moves it after writing them).
pub(super) fn verify(dir: &Path) -> Result<VerifyReport, AuditReadError> {
    // A reader takes no lock: the server may be writing beside it.
    let sink = JsonLinesSink::reader(dir);
    let segments = sink
        .segments()
        .map_err(|e| AuditReadError::io(format!("audit dir {}", dir.display()), e))?;
    let mut verifier = ChainVerifier::new();
    verifier.checkpoint(
        sink.checkpoint()
            .transpose()
            .map(|read| read.map_err(|e| e.to_string())),
    );
    let newest = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        let name = segment
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let cannot = |e: io::Error| AuditReadError::io(segment.display().to_string(), e);
        verifier.segment(name);
        let mut reader = BufReader::new(File::open(segment).map_err(cannot)?);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(cannot)? == 0 {
                break;
            }
            if line.pop_if(|b| *b == b'\n').is_none() && index == newest {
                // No newline yet: a line being written, or torn by a crash.
                verifier.torn_tail(line.len());
                break;
            }
            // Bytes that are not UTF-8 are not an audit line: an empty one says so to `verify`.
            verifier.line(String::from_utf8(std::mem::take(&mut line)).unwrap_or_default());
        }
    }
    Ok(verifier.finish())
}
