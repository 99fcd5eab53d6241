//! Appending a batch: one write per day's segment, synced as configured, then the head
//! checkpoint; all of it undone when any part fails, so the writer's retry writes each line once.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::segments::day_of;
use super::{Fsync, HEAD_FILE, JsonLinesSink};
use crate::audit::{ChainHead, ChainedLine};

/// The temporary file a new checkpoint is written to before it is renamed over [`HEAD_FILE`].
const HEAD_TEMPORARY: &str = ".head.tmp";

/// A segment opened for this batch, and its length before it.
struct Opened {
    file: File,
    len_before: u64,
    created: bool,
}

pub(super) fn write_batch(sink: &JsonLinesSink, batch: &[ChainedLine]) -> io::Result<()> {
    let Some(last) = batch.last() else {
        return Ok(());
    };
    // The batch split into runs of one UTC day each; lines are filed in chain order, so the
    // runs go to the segments in name order.
    let mut runs: Vec<(i64, &[ChainedLine])> = Vec::new();
    let mut rest = batch;
    while let Some(first) = rest.first() {
        let day = day_of(first.ts);
        let len = rest
            .iter()
            .position(|l| day_of(l.ts) != day)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(len);
        runs.push((day, run));
        rest = tail;
    }
    // Open every segment first: a segment that cannot be opened fails the batch before any
    // line is written.
    let mut opened = runs
        .iter()
        .map(|(day, _)| open_segment(&sink.segment_path(*day)))
        .collect::<io::Result<Vec<Opened>>>()?;
    let written = append_runs(sink, &runs, &mut opened)
        .and_then(|()| write_checkpoint(&sink.dir, last.head()));
    if let Err(error) = written {
        // Cut the segments back to where they were: what is left is whole lines only, and the
        // retry appends this batch once. A segment that cannot be cut keeps a torn line, which
        // the next start moves aside.
        for segment in &opened {
            if let Err(cut) = segment.file.set_len(segment.len_before) {
                tracing::error!(%cut, "audit: a failed batch could not be cut back off its segment");
            }
        }
        return Err(error);
    }
    Ok(())
}

fn open_segment(path: &Path) -> io::Result<Opened> {
    let (file, created) = match OpenOptions::new().append(true).open(path) {
        Ok(file) => (file, false),
        Err(error) if error.kind() == io::ErrorKind::NotFound => (
            OpenOptions::new().create(true).append(true).open(path)?,
            true,
        ),
        Err(error) => return Err(error),
    };
    let len_before = file.metadata()?.len();
    Ok(Opened {
        file,
        len_before,
        created,
    })
}

fn append_runs(
    sink: &JsonLinesSink,
    runs: &[(i64, &[ChainedLine])],
    opened: &mut [Opened],
) -> io::Result<()> {
    let last = runs.len().saturating_sub(1);
    for (index, ((_, run), segment)) in runs.iter().zip(opened.iter_mut()).enumerate() {
        let mut text = String::with_capacity(run.len() * 340);
        for line in *run {
            text.push_str(&line.line);
            text.push('\n');
        }
        // One write per segment and batch: a failure leaves at most a torn last line.
        segment.file.write_all(text.as_bytes())?;
        match sink.fsync {
            Fsync::Batch => segment.file.sync_data()?,
            // The day ended inside this batch: make the finished segment durable.
            Fsync::Off if index < last => segment.file.sync_all()?,
            Fsync::Off => {}
        }
    }
    if sink.fsync == Fsync::Batch && opened.iter().any(|s| s.created) {
        // A new segment's name is in the directory, which has to be synced for it to last.
        File::open(&sink.dir)?.sync_all()?;
    }
    Ok(())
}

/// Replaces the checkpoint: written beside it and renamed over it, so it is always one whole
/// checkpoint. Not synced: the segments it names were synced first (with [`Fsync::Batch`]), so
/// whatever a power cut leaves of it (this one, or the one before, which the log also reaches)
/// never names a line the disk lost; a sync here would double the cost of every batch.
fn write_checkpoint(dir: &Path, head: ChainHead) -> io::Result<()> {
    let temporary = dir.join(HEAD_TEMPORARY);
    let mut file = File::create(&temporary)?;
    file.write_all(format!("{}\n", head.to_checkpoint()).as_bytes())?;
    drop(file);
    fs::rename(&temporary, dir.join(HEAD_FILE))
}
