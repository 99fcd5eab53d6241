//! The lines of a file read backwards from a byte offset, a chunk at a time: a page of the
//! newest lines of a segment costs a few chunks, not the segment.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// How much is read at a time.
const CHUNK: usize = 64 * 1024;

/// The longest line kept; an audit line is at most about 3 KB. A longer one (not an audit
/// line) is stepped over without being held whole.
const MAX_LINE: usize = 1024 * 1024;

/// A line, and where it starts.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Line {
    /// The offset of its first byte: a cursor there reads the lines before it.
    pub(super) start: u64,
    /// Its text without the newline; `None` when it is not UTF-8 or longer than [`MAX_LINE`].
    pub(super) text: Option<String>,
}

/// The lines that end before an offset, last first.
#[derive(Debug)]
pub(super) struct BackwardLines {
    file: File,
    /// The bytes from `buffered_from` to the end of the lines not yet given.
    buffer: Vec<u8>,
    buffered_from: u64,
}

impl BackwardLines {
    /// The lines of `file` that end before `end`, which is 0 or just after a newline (checked:
    /// an [`io::ErrorKind::InvalidInput`] error otherwise).
    pub(super) fn new(mut file: File, end: u64) -> io::Result<Self> {
        let len = file.metadata()?.len();
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "not at the end of a line");
        if end > len {
            return Err(invalid());
        }
        if end > 0 {
            let mut before = [0_u8; 1];
            file.seek(SeekFrom::Start(end - 1))?;
            file.read_exact(&mut before)?;
            if before[0] != b'\n' {
                return Err(invalid());
            }
        }
        Ok(BackwardLines {
            file,
            buffer: Vec::new(),
            buffered_from: end,
        })
    }

    /// The line before the ones given so far; `None` at the start of the file.
    pub(super) fn next_line(&mut self) -> io::Result<Option<Line>> {
        // The buffer ends with the newline of the line wanted (or is empty).
        if self.buffer.is_empty() && self.buffered_from == 0 {
            return Ok(None);
        }
        loop {
            let body = self.buffer.len().saturating_sub(1);
            if let Some(newline) = self.buffer[..body].iter().rposition(|b| *b == b'\n') {
                return Ok(Some(self.take_from(newline + 1)));
            }
            if self.buffered_from == 0 {
                return Ok(Some(self.take_from(0)));
            }
            if self.buffer.len() > MAX_LINE {
                // Not an audit line: only where it starts is wanted, found without holding it.
                let start = self.line_start_before(self.buffered_from)?;
                self.buffer.clear();
                self.buffered_from = start;
                return Ok(Some(Line { start, text: None }));
            }
            self.read_chunk()?;
        }
    }

    /// The line from `at` in the buffer to its end, which is cut off.
    fn take_from(&mut self, at: usize) -> Line {
        let start = self.buffered_from + at as u64;
        let mut bytes = self.buffer.split_off(at);
        bytes.pop();
        Line {
            start,
            text: String::from_utf8(bytes).ok(),
        }
    }

    /// Just after the last newline before `end`, or 0: read a chunk at a time, nothing kept.
    fn line_start_before(&mut self, mut end: u64) -> io::Result<u64> {
        let mut chunk = vec![0_u8; CHUNK];
        while end > 0 {
            let start = end.saturating_sub(CHUNK as u64);
            let part = &mut chunk[..usize::try_from(end - start).unwrap_or(CHUNK)];
            self.file.seek(SeekFrom::Start(start))?;
            self.file.read_exact(part)?;
            if let Some(newline) = part.iter().rposition(|b| *b == b'\n') {
                return Ok(start + newline as u64 + 1);
            }
            end = start;
        }
        Ok(0)
    }

    /// Puts the chunk before the buffer in front of it.
    fn read_chunk(&mut self) -> io::Result<()> {
        let start = self.buffered_from.saturating_sub(CHUNK as u64);
        let mut chunk = vec![0_u8; usize::try_from(self.buffered_from - start).unwrap_or(CHUNK)];
        self.file.seek(SeekFrom::Start(start))?;
        self.file.read_exact(&mut chunk)?;
        chunk.append(&mut self.buffer);
        self.buffer = chunk;
        self.buffered_from = start;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_before(text: &[u8], end: u64) -> io::Result<Vec<(u64, Option<String>)>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("segment");
        std::fs::write(&path, text)?;
        let mut lines = BackwardLines::new(File::open(&path)?, end)?;
        let mut out = Vec::new();
        while let Some(line) = lines.next_line()? {
            out.push((line.start, line.text));
        }
        Ok(out)
    }

    #[test]
    fn lines_come_last_first_with_their_starts_across_chunks() {
        let long = "y".repeat(CHUNK + 10);
        let text = format!("a\n{long}\n\nbc\n");
        let all = lines_before(text.as_bytes(), text.len() as u64).expect("read");
        let expected = vec![
            (long.len() as u64 + 4, Some("bc".to_owned())),
            (long.len() as u64 + 3, Some(String::new())),
            (2, Some(long.clone())),
            (0, Some("a".to_owned())),
        ];
        assert_eq!(all, expected);
        // From a line's start: the lines before it only.
        let before = lines_before(text.as_bytes(), 2).expect("read");
        assert_eq!(before, vec![(0, Some("a".to_owned()))]);
        assert_eq!(lines_before(text.as_bytes(), 0).expect("read"), vec![]);
    }

    #[test]
    fn an_offset_inside_a_line_or_past_the_end_is_refused() {
        let text = b"abc\ndef\n";
        for end in [1, 5, 9] {
            let error = lines_before(text, end).expect_err("not a line's end");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{end}");
        }
    }

    #[test]
    fn an_oversized_or_non_utf8_line_is_given_without_text() {
        let huge = "z".repeat(MAX_LINE + 3 * CHUNK);
        let text = format!("a\n{huge}\nb\n");
        let all = lines_before(text.as_bytes(), text.len() as u64).expect("read");
        assert_eq!(all.len(), 3);
        assert_eq!(all[1], (2, None));
        assert_eq!(all[2], (0, Some("a".to_owned())));
        let all = lines_before(b"\xff\xfe\nok\n", 6).expect("read");
        assert_eq!(all, vec![(3, Some("ok".to_owned())), (0, None)]);
    }
}
