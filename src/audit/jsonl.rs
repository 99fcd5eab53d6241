//! JSON Lines files, one segment per UTC day: `audit-YYYY-MM-DD.jsonl`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{AuditSink, ChainHead, ChainedLine};
use crate::clock::Timestamp;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Audit lines in daily JSON Lines segments under one directory.
///
/// Each batch is appended to the segment of its events' UTC day and flushed to the operating
/// system; segments are synced to disk when a day ends and on [`AuditLog::flush`](super::AuditLog::flush).
/// Retention deletes whole segments whose day has fully passed the cutoff.
///
/// A directory holds one chain, so it has one writer: the sink holds an exclusive lock on
/// `<dir>/.lock` for its life (its clones share it), and the operating system releases it when
/// the process dies, however it dies.
#[derive(Clone, Debug)]
pub struct JsonLinesSink {
    dir: PathBuf,
    /// `None` for a sink opened with [`JsonLinesSink::reader`].
    lock: Option<Arc<File>>,
}

/// The file under the directory whose lock marks the live writer.
pub const LOCK_FILE: &str = ".lock";

impl JsonLinesSink {
    /// The writer of the segments under `dir`, created if missing.
    ///
    /// # Errors
    /// When the directory cannot be created, or another sink (in this process or another) is
    /// the directory's writer: [`io::ErrorKind::WouldBlock`], naming the directory.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "audit dir {} has a live writer already (another process or sink holds {LOCK_FILE})",
                        dir.display()
                    ),
                ));
            }
            Err(fs::TryLockError::Error(error)) => return Err(error),
        }
        Ok(JsonLinesSink {
            dir,
            lock: Some(Arc::new(lock)),
        })
    }

    /// The segments under `dir` for reading (`segments`, `read_lines`, `head`) beside a live
    /// writer; it takes no lock, and writing or purging through it is an error.
    pub fn reader(dir: impl Into<PathBuf>) -> Self {
        JsonLinesSink {
            dir: dir.into(),
            lock: None,
        }
    }

    fn writable(&self) -> io::Result<()> {
        match self.lock {
            Some(_) => Ok(()),
            None => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("audit dir {} was opened for reading", self.dir.display()),
            )),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment files, oldest first.
    pub fn segments(&self) -> io::Result<Vec<PathBuf>> {
        let mut segments: Vec<PathBuf> = fs::read_dir(&self.dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| segment_day(path).is_some())
            .collect();
        segments.sort();
        Ok(segments)
    }

    /// Every line of every segment, oldest first: what `verify` reads.
    pub fn read_lines(&self) -> io::Result<Vec<String>> {
        let mut lines = Vec::new();
        for segment in self.segments()? {
            for line in BufReader::new(File::open(segment)?).lines() {
                lines.push(line?);
            }
        }
        Ok(lines)
    }

    fn segment_path(&self, day: i64) -> PathBuf {
        self.dir.join(format!("audit-{}.jsonl", day_name(day)))
    }
}

impl AuditSink for JsonLinesSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        self.writable()?;
        // The batch split into runs of one UTC day each.
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
        // line is written, so the retry does not write the other day's lines twice.
        let mut files = runs
            .iter()
            .map(|(day, _)| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.segment_path(*day))
            })
            .collect::<io::Result<Vec<File>>>()?;
        let last = runs.len().saturating_sub(1);
        for (index, ((_, run), file)) in runs.iter().zip(files.iter_mut()).enumerate() {
            let mut text = String::with_capacity(run.len() * 340);
            for line in *run {
                text.push_str(&line.line);
                text.push('\n');
            }
            // One write per segment and batch: a failure leaves at most a torn last line.
            file.write_all(text.as_bytes())?;
            file.flush()?;
            if index < last {
                // The day ended inside this batch: make the finished segment durable.
                file.sync_all()?;
            }
        }
        Ok(())
    }

    fn purge_before(&self, cutoff: Timestamp) -> io::Result<usize> {
        self.writable()?;
        let cutoff_day = day_of(cutoff);
        let mut removed = 0;
        for segment in self.segments()? {
            // A segment holds one whole day: it goes when all of its day is before the cutoff.
            if segment_day(&segment).is_some_and(|day| day < cutoff_day) {
                removed += BufReader::new(File::open(&segment)?).lines().count();
                fs::remove_file(&segment)?;
            }
        }
        Ok(removed)
    }

    fn head(&self) -> io::Result<ChainHead> {
        let Some(last_segment) = self.segments()?.pop() else {
            return Ok(ChainHead::default());
        };
        let last = BufReader::new(File::open(last_segment)?)
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.is_empty())
            .last();
        let Some(line) = last else {
            return Ok(ChainHead::default());
        };
        ChainHead::of_line(&line)
    }
}

fn day_of(ts: Timestamp) -> i64 {
    ts.unix_millis().div_euclid(MILLIS_PER_DAY)
}

fn day_name(day: i64) -> String {
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
fn segment_day(path: &Path) -> Option<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_names_round_trip() {
        let day = day_of(Timestamp::parse_rfc3339("2028-02-29T23:59:59Z").unwrap());
        assert_eq!(day_name(day), "2028-02-29");
        assert_eq!(segment_day(Path::new("audit-2028-02-29.jsonl")), Some(day));
        assert_eq!(segment_day(Path::new("audit-2028-02-30.jsonl")), None);
        assert_eq!(segment_day(Path::new("notes.txt")), None);
    }
}
