//! Where the chain goes on: the newest segment's last whole line, a torn tail moved aside, an
//! empty newest segment passed over, and the head checkpoint compared.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::JsonLinesSink;
use super::segments::{SegmentEnd, day_start, segment_day, segment_end};
use crate::audit::checkpoint::resumed;
use crate::audit::{ChainHead, Resumed};
use crate::clock::Timestamp;

/// The last whole line of the newest segment that has one; with none, the checkpoint's head
/// (retention removed every line); else the head of an empty chain. Reads only.
pub(super) fn head(sink: &JsonLinesSink) -> io::Result<ChainHead> {
    for segment in sink.segments()?.iter().rev() {
        if let Some(line) = segment_end(segment).map_err(naming(segment))?.last {
            return ChainHead::of_line(&line).map_err(naming(segment));
        }
    }
    Ok(sink.checkpoint()?.unwrap_or_default())
}

/// [`head`], after moving aside the torn tails of the segments at the end, and with what was
/// repaired or found (a log that ends before its checkpoint) as the recovery's detail.
pub(super) fn resume(sink: &JsonLinesSink) -> io::Result<Resumed> {
    let mut found: Vec<String> = Vec::new();
    let mut last: Option<(ChainHead, Timestamp)> = None;
    for segment in sink.segments()?.iter().rev() {
        let end = segment_end(segment).map_err(naming(segment))?;
        if end.is_torn() {
            let (moved_to, bytes) = move_aside(segment, &end).map_err(naming(segment))?;
            tracing::warn!(
                segment = %segment.display(),
                moved_to = %moved_to.display(),
                bytes,
                "audit: a torn last line (a write cut short) was moved aside; the chain goes on from the last whole line"
            );
            let name = moved_to
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            found.push(format!("torn_tail_bytes={bytes} moved_to={name}"));
        }
        if let Some(line) = end.last {
            let day = segment_day(segment).unwrap_or(0);
            let head = ChainHead::of_line(&line).map_err(naming(segment))?;
            last = Some((head, day_start(day)));
            break;
        }
        // An empty segment (rotation, or nothing but a torn line): the chain ends further back.
    }
    // Every line went (retention after a long silence): the chain goes on from the checkpoint.
    let (head, filed_from) =
        last.map_or((None, Timestamp::EPOCH), |(head, from)| (Some(head), from));
    resumed(head, filed_from, sink.checkpoint(), false, found)
}

/// Copies the bytes after `end`'s last whole line into a new file beside the segment, synced,
/// then cuts them off the segment: they are kept, never deleted. Returns the file and how many
/// bytes it holds.
fn move_aside(segment: &Path, end: &SegmentEnd) -> io::Result<(PathBuf, u64)> {
    let mut file = OpenOptions::new().read(true).write(true).open(segment)?;
    file.seek(SeekFrom::Start(end.tail_at))?;
    let mut name = segment.as_os_str().to_owned();
    name.push(format!(".torn-{}", end.tail_at));
    let base = PathBuf::from(name);
    let mut moved_to = base.clone();
    let mut copy = 1;
    let mut aside = loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&moved_to)
        {
            Ok(aside) => break aside,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                copy += 1;
                let mut name = base.as_os_str().to_owned();
                name.push(format!("-{copy}"));
                moved_to = PathBuf::from(name);
            }
            Err(error) => return Err(error),
        }
    };
    // Copied, not read whole: after an operating system crash the tail can be megabytes of zeros.
    let copied = io::copy(&mut (&mut file).take(end.len - end.tail_at), &mut aside)?;
    // The bytes are safe before they leave the segment.
    aside.sync_all()?;
    let dir = segment
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()?;
    file.set_len(end.tail_at)?;
    file.sync_all()?;
    Ok((moved_to, copied))
}

/// An error that names the file it is about.
fn naming(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |error| io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}
