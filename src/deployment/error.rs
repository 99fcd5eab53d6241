//! Why a deployment did not start.

use std::fmt;
use std::io;

use crate::key::KeyStoreError;
use crate::store::StoreError;

/// Why [`Deployment::start`](super::Deployment::start) failed. Each names what the operator
/// fixes; none carries a secret (a webhook secret's variable is named, never its value).
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The config asks for something this build or these options cannot give (a backend whose
    /// feature is off, the audit log on Redis with no instance name, ...).
    Unsupported(String),
    /// The audit chain's instance name could not be read, kept or used.
    Instance(String),
    /// The audit log could not start: its directory, its lock, or the Redis stream's lease.
    Audit(io::Error),
    /// The shared store did not answer at startup.
    Store(StoreError),
    /// A key of the config could not be loaded into the key store.
    Keys(KeyStoreError),
    /// A webhook endpoint or its secret is not usable.
    Webhooks(String),
    /// The embedded store under `store.path` could not open (in use by another process, a
    /// newer schema, an unreadable file).
    #[cfg(feature = "embedded")]
    Embedded(crate::embedded_store::EmbeddedError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Unsupported(what) => f.write_str(what),
            StartError::Instance(what) => write!(f, "audit instance: {what}"),
            StartError::Audit(error) => write!(f, "audit log: {error}"),
            StartError::Store(error) => write!(f, "store: {error}"),
            StartError::Keys(error) => write!(f, "keys: {error}"),
            StartError::Webhooks(what) => write!(f, "webhooks: {what}"),
            #[cfg(feature = "embedded")]
            StartError::Embedded(error) => write!(f, "store: {error}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Audit(error) => Some(error),
            StartError::Store(error) => Some(error),
            StartError::Keys(error) => Some(error),
            #[cfg(feature = "embedded")]
            StartError::Embedded(error) => Some(error),
            _ => None,
        }
    }
}
