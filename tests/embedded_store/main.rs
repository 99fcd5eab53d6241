//! The embedded durable store (feature `embedded`): each store's state across a close and a
//! reopen, and across a drop without a clean close (what a crash leaves: the last commits),
//! the quota blocks, the directory lock, the schema version, backup and restore.
#![cfg(feature = "embedded")]
#![allow(clippy::unwrap_used)]

mod backup;
mod keys;
mod quota;
mod schema;
mod webhook_queue;

use std::path::Path;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
use memorysync_pipeline::key::{KeyHash, KeyRecord};

/// A fixed instant: 2027-03-10.
fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2027-03-10T12:00:00Z").unwrap()
}

fn open(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, EmbeddedOptions::new()).unwrap()
}

fn record(id: &str, n: u8) -> KeyRecord {
    KeyRecord::new(
        id,
        KeyHash::from_bytes([n; 32]),
        "proj_a",
        Environment::Production,
    )
}
