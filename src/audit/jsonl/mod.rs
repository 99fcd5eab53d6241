//! JSON Lines files, one segment per UTC day (`audit-YYYY-MM-DD.jsonl`), with the chain's head
//! checkpointed beside them (`head`).

mod resume;
pub(super) mod segments;
mod write;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{AuditSink, AuditSource, ChainHead, ChainedLine, Resumed};
use crate::clock::Timestamp;
use segments::{day_of, segment_day};

/// The file under the directory whose lock marks the live writer.
pub const LOCK_FILE: &str = ".lock";

/// The file under the directory that holds the head checkpoint:
/// `{"seq":N,"sha256":"<hex>"}` ([`ChainHead::to_checkpoint`]).
pub const HEAD_FILE: &str = "head";

/// When the JSON Lines sink makes what it wrote durable (`[audit] fsync` in the config:
/// `"batch"` or `"off"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Every batch is synced to disk (`fdatasync`) before it counts as written and before the
    /// head checkpoint moves to it: an operating system crash or a power cut loses no batch that
    /// [`AuditLog::flush`](super::AuditLog::flush) reported written. The default.
    #[default]
    Batch,
    /// Batches are handed to the operating system and synced only when their day ends: faster,
    /// but an operating system crash or a power cut loses what the system had not yet written
    /// (on Linux, up to about 30 seconds). A crash of the process alone loses nothing written.
    Off,
}

/// Audit lines in daily JSON Lines segments under one directory.
///
/// Lines are filed by their place in the chain ([`ChainedLine::ts`]), so the segments read in
/// name order are the chain in order, across midnight too. Each batch is appended to the
/// segments of its days in one write per segment, synced to disk as [`Fsync`] says (by
/// default, every batch), and then the head checkpoint ([`HEAD_FILE`]) is moved to the batch's
/// last line; a batch that fails part-way is cut back off, so its retry does not write lines
/// twice. Retention deletes whole segments whose day has fully passed the cutoff.
///
/// At start ([`AuditSink::resume`]), bytes after the newest segment's last whole line (a write
/// cut short by a crash or a full disk) are moved aside into `<segment>.torn-<offset>`, kept,
/// and the chain goes on from the last whole line; an empty newest segment is passed over; a
/// log that ends before its checkpoint (lines cut off) is resumed from where it ends. Each is
/// recorded by a `RECOVERY` event.
///
/// A directory holds one chain, so it has one writer: the sink holds an exclusive lock on
/// `<dir>/.lock` for its life (its clones share it), and the operating system releases it when
/// the process dies, however it dies.
#[derive(Clone, Debug)]
pub struct JsonLinesSink {
    dir: PathBuf,
    /// `None` for a sink opened with [`JsonLinesSink::reader`].
    lock: Option<Arc<File>>,
    fsync: Fsync,
}

impl JsonLinesSink {
    /// The writer of the segments under `dir`, created if missing, syncing every batch
    /// ([`Fsync::Batch`]).
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
            fsync: Fsync::default(),
        })
    }

    /// Syncs to disk as `fsync` says.
    #[must_use]
    pub fn with_fsync(mut self, fsync: Fsync) -> Self {
        self.fsync = fsync;
        self
    }

    /// The segments under `dir` for reading (`segments`, `read_lines`, `head`, `checkpoint`)
    /// beside a live writer; it takes no lock, and writing, purging or resuming through it is an
    /// error.
    pub fn reader(dir: impl Into<PathBuf>) -> Self {
        JsonLinesSink {
            dir: dir.into(),
            lock: None,
            fsync: Fsync::default(),
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

    /// Every line of every segment, oldest first: what `verify` reads. Bytes after the newest
    /// segment's last newline are left out: a line still being written, or one torn by a crash
    /// (which the next start moves aside).
    pub fn read_lines(&self) -> io::Result<Vec<String>> {
        let mut lines = Vec::new();
        let segments = self.segments()?;
        let newest = segments.len().saturating_sub(1);
        for (index, segment) in segments.iter().enumerate() {
            let mut reader = BufReader::new(File::open(segment)?);
            let mut line = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                let whole = line.pop_if(|b| *b == b'\n').is_some();
                if !whole && index == newest {
                    break;
                }
                let text = String::from_utf8(std::mem::take(&mut line)).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: a line is not UTF-8", segment.display()),
                    )
                })?;
                lines.push(text);
            }
        }
        Ok(lines)
    }

    /// The head checkpoint ([`HEAD_FILE`]): the last line the writer wrote and synced, or
    /// `None` before the first batch. A log that ends before it had lines cut off.
    ///
    /// # Errors
    /// When the file cannot be read, or ([`io::ErrorKind::InvalidData`], naming the file) holds
    /// no checkpoint.
    pub fn checkpoint(&self) -> io::Result<Option<ChainHead>> {
        let path = self.dir.join(HEAD_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => ChainHead::from_checkpoint(&text)
                .map(Some)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io::Error::new(
                error.kind(),
                format!("{}: {error}", path.display()),
            )),
        }
    }

    fn segment_path(&self, day: i64) -> PathBuf {
        self.dir
            .join(format!("audit-{}.jsonl", segments::day_name(day)))
    }
}

impl AuditSink for JsonLinesSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        self.writable()?;
        write::write_batch(self, batch)
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
        resume::head(self)
    }

    fn resume(&self) -> io::Result<Resumed> {
        self.writable()?;
        resume::resume(self)
    }

    fn source(&self) -> AuditSource {
        AuditSource::JsonLines(self.dir.clone())
    }
}
