//! Why the embedded store could not open, or a call to it failed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// Why [`EmbeddedStore::open`](super::EmbeddedStore::open) (or a backup or restore) failed.
/// Each names what the operator fixes.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// Another process (or another store in this one) has `store.path` open.
    InUse {
        /// `store.path`.
        dir: PathBuf,
        /// The id of the process holding its lock, when it could be read.
        pid: Option<u32>,
    },
    /// The database was written by a newer version of this software.
    NewerSchema {
        /// The database file.
        file: PathBuf,
        /// Its schema version.
        found: u64,
        /// The newest this build reads.
        supported: u64,
    },
    /// A file under `store.path` could not be read or written.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The database refused an operation or holds something unreadable.
    Database(String),
}

impl EmbeddedError {
    pub(super) fn io(path: &Path, error: std::io::Error) -> Self {
        EmbeddedError::Io {
            path: path.to_owned(),
            error,
        }
    }

    pub(super) fn database(error: impl fmt::Display) -> Self {
        EmbeddedError::Database(error.to_string())
    }
}

impl fmt::Display for EmbeddedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmbeddedError::InUse { dir, pid } => {
                write!(
                    f,
                    "store.path {} is in use by another process",
                    dir.display()
                )?;
                if let Some(pid) = pid {
                    write!(f, " (pid {pid})")?;
                }
                write!(
                    f,
                    ": one process per store.path; stop it, or give this one another path"
                )
            }
            EmbeddedError::NewerSchema {
                file,
                found,
                supported,
            } => write!(
                f,
                "{} has schema version {found}, newer than this build reads ({supported}): run the newer memorysync, or restore a backup made by this version",
                file.display()
            ),
            EmbeddedError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            EmbeddedError::Database(what) => write!(f, "embedded database: {what}"),
        }
    }
}

impl std::error::Error for EmbeddedError {}

impl From<EmbeddedError> for StoreError {
    fn from(error: EmbeddedError) -> Self {
        StoreError::new(error.to_string())
    }
}
