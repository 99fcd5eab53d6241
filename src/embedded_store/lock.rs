//! One process per `store.path`: an exclusive lock on `<path>/.lock`, held for the store's life
//! and released by the operating system however the process ends.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use super::EmbeddedError;

/// The file under `store.path` whose lock marks the live process.
pub const LOCK_FILE: &str = ".lock";

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `dir` and writes this process's id into the file, for the error a
    /// second process reports and for `memorysync store backup`, which signals the holder.
    pub(super) fn take(dir: &Path) -> Result<DirLock, EmbeddedError> {
        let mut file = open(dir).map_err(|e| EmbeddedError::io(dir, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(EmbeddedError::InUse {
                    dir: dir.to_owned(),
                    pid: holder(&mut file),
                });
            }
            Err(fs::TryLockError::Error(error)) => return Err(EmbeddedError::io(dir, error)),
        }
        let pid = std::process::id().to_string();
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .and_then(|()| file.flush());
        written.map_err(|e| EmbeddedError::io(dir, e))?;
        Ok(DirLock { _file: file })
    }
}

/// The process holding the lock of `dir`, or `None` when none does (or its id is unreadable).
pub fn lock_holder(dir: &Path) -> io::Result<Option<u32>> {
    let mut file = match OpenOptions::new().read(true).open(dir.join(LOCK_FILE)) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(None),
        Err(fs::TryLockError::WouldBlock) => Ok(holder(&mut file)),
        Err(fs::TryLockError::Error(error)) => Err(error),
    }
}

fn open(dir: &Path) -> io::Result<File> {
    fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(dir.join(LOCK_FILE))
}

fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
