//! The embedded durable store (feature `embedded`): `store.backend = "embedded"` keeps key
//! records, revocations and tombstones, key usage, quota counters and alert marks, the plans
//! the admin API manages, and the webhook queue with its dead letters in a [redb](https://docs.rs/redb) database under
//! `store.path`, for one production instance. Rate-limit windows (seconds long) stay in memory.
//!
//! Every answer on the request path comes from memory; the database is written by one thread
//! of its own, which takes whatever is waiting and commits it in one durable transaction (a
//! group commit). What waits for that commit, and what may be lost in a crash:
//!
//! | state | written | lost in a crash (SIGKILL, power loss) |
//! |---|---|---|
//! | key records, revocations, tombstones | committed before the call returns | nothing |
//! | plans the admin API manages | committed before the call returns | nothing |
//! | webhook queue, dead letters | committed before the call returns | nothing; a message in flight is sent again |
//! | quota counters | units reserved ahead, in blocks of B = max(1, min(⌊plan / 100⌋, 1000)) | at most one block per project and operation is forfeited (counted, never served); never a unit over the plan |
//! | alert marks | in the background, within one commit | an alert of the last commit may fire again |
//! | key usage (count, last use) | every second | the last second of usage |
//!
//! See [`block`] for the quota blocks. A clean stop ([`EmbeddedStore::close`], called by
//! `Deployment::shutdown`) writes the exact counts and the usage, so it forfeits nothing.
//!
//! One process per `store.path`: the store holds an exclusive lock on `<path>/.lock` (holding
//! its process id) for its life; a second one is refused with [`EmbeddedError::InUse`]. The
//! database carries a schema version ([`SCHEMA_VERSION`]): an older database is migrated at
//! open, a newer one refused.
//!
//! # Example
//! ```
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
//! use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let now = Timestamp::from_unix_secs(1_800_000_000);
//! let key = ApiKey::generate(Environment::Production).unwrap();
//! let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
//! let record = KeyRecord::new("key_1", key.hash(), "proj_demo", Environment::Production);
//! store.keys().insert(record, now).await.unwrap();
//! store.keys().revoke("key_1", now).await.unwrap(); // on disk when it returns
//! // A second store on the same directory is refused while the first is open.
//! assert!(EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).is_err());
//! store.close().await;
//! drop(store);
//!
//! let reopened = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
//! let entry = reopened.keys().find_by_hash(&key.hash()).await.unwrap().unwrap();
//! assert!(entry.record().is_revoked(now));
//! # });
//! ```
//!
//! # Decisions
//! - redb, not SQLite: the commit costs measured on this workload are of the same order (both
//!   wait on one fsync; see BENCHMARKS.md), and redb is pure Rust: no C compiler in the build,
//!   about a fifth of SQLite's cold build time. redb 3.1 keeps the crate's rust-version.
//! - Claims of webhook messages are not written: a message claimed by a process that died is
//!   on disk as waiting, and is delivered again at the next start (at least once).
//! - A refunded unit is given back in memory only; a crash right after forfeits it with the
//!   block (a crash forfeits at most one block plus the units refunded since its commit).
//! - Expired tombstones are purged from memory by the audit log's expiry and from the database
//!   when the store opens.
//! - Counters of past months are kept (a few bytes per project and month).
//! - Webhook endpoint records are committed before the call that changed them returns, like
//!   key records. Webhook delivery attempts are written in the background (a crash may lose
//!   the last commit's) and read from disk, not memory: 90 days of them may be large.

pub mod block;

mod attempts;
mod backup;
mod codec;
mod config_version;
mod endpoints;
mod error;
mod keys;
mod load;
mod lock;
mod plans;
mod quota;
mod schema;
mod tombstones;
mod webhook_queue;
mod writer;

pub use attempts::EmbeddedAttemptLog;
pub use backup::{RestoreReport, restore};
pub use config_version::EmbeddedConfigVersions;
pub use endpoints::EmbeddedEndpointStore;
pub use error::EmbeddedError;
pub use keys::{EmbeddedKeyStore, EmbeddedLookup};
pub use lock::{LOCK_FILE, lock_holder};
pub use plans::EmbeddedPlanStore;
pub use quota::{EmbeddedQuotaStore, EmbeddedReserve};
pub use schema::SCHEMA_VERSION;
pub use tombstones::EmbeddedTombstones;
pub use webhook_queue::EmbeddedWebhookQueue;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use redb::Database;

use crate::clock::{SharedClock, system_clock};
use crate::key::MemoryKeyStore;
use crate::quota::QuotaKey;
use crate::tombstone::MemoryTombstones;
use block::QuotaCell;
use lock::DirLock;
use webhook_queue::QueueState;
use writer::{Op, Writer};

/// The database file under `store.path`.
pub const DATABASE_FILE: &str = "state.redb";

/// How often key usage counted in memory is written.
pub const USAGE_EVERY: Duration = Duration::from_secs(1);

/// The options of [`EmbeddedStore::open`].
#[derive(Clone)]
#[must_use]
pub struct EmbeddedOptions {
    tombstone_period: Duration,
    clock: SharedClock,
}

impl EmbeddedOptions {
    /// Tombstones kept 90 days; the system clock.
    pub fn new() -> Self {
        EmbeddedOptions {
            tombstone_period: MemoryTombstones::DEFAULT_KEEP_FOR,
            clock: system_clock(),
        }
    }

    /// How long tombstones are kept (`audit.tombstone_days`).
    pub fn with_tombstone_period(mut self, period: Duration) -> Self {
        self.tombstone_period = period;
        self
    }

    /// The clock that tells which tombstones expired while the store was closed.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

impl fmt::Debug for EmbeddedOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedOptions")
            .field("tombstone_period", &self.tombstone_period)
            .finish_non_exhaustive()
    }
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The embedded store: one database under one directory, opened by one process. Clones share
/// it; the handles ([`EmbeddedStore::keys`], ...) are the stores a deployment uses.
#[derive(Clone)]
pub struct EmbeddedStore {
    shared: Arc<Shared>,
}

/// What every handle shares. Fields drop in order: the writer thread ends (after a last
/// commit) before the directory's lock is released.
struct Shared {
    writer: Writer,
    keys: MemoryKeyStore,
    tombstones: MemoryTombstones,
    quotas: DashMap<QuotaKey, Arc<QuotaCell>>,
    queue: Mutex<QueueState>,
    /// One key change at a time, so its checks hold until it is in memory.
    admin: tokio::sync::Mutex<()>,
    /// The config file last reconciled, as read when the store opened and claimed since.
    config_versions: crate::store::MemoryConfigVersions,
    /// The plans the admin API manages; locked across the commit of a change.
    plans: tokio::sync::Mutex<crate::quota::ApiPlans>,
    /// Webhook endpoint records.
    endpoints: endpoints::EndpointTable,
    /// The sequence number of the next webhook attempt.
    next_attempt: std::sync::atomic::AtomicU64,
    /// The database, for reads the memory does not answer (the attempt log); after the writer,
    /// so the writer thread has ended when the last handle to it goes. Taken by
    /// [`EmbeddedStore::close`], so that a closed store leaves the file free to open again
    /// while handles to it remain.
    db: std::sync::Mutex<Option<Arc<Database>>>,
    /// Set by [`EmbeddedStore::close`]: quota reservations are refused from then on.
    closed: AtomicBool,
    dir: PathBuf,
    /// The directory's lock, released by [`EmbeddedStore::close`] (a closed store writes
    /// nothing more, so the directory may be opened again while handles to it remain).
    lock: std::sync::Mutex<Option<DirLock>>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store under `dir`: takes the directory's lock, migrates an older
    /// schema, reads everything into memory and starts the writer thread.
    ///
    /// # Errors
    /// [`EmbeddedError::InUse`] when another process holds the directory,
    /// [`EmbeddedError::NewerSchema`] for a database of a newer version, and I/O or database
    /// errors naming the file.
    pub fn open(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let dir = dir.as_ref();
        let lock = DirLock::take(dir)?;
        let file = dir.join(DATABASE_FILE);
        let db = match Database::create(&file) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(EmbeddedError::InUse {
                    dir: dir.to_owned(),
                    pid: None,
                });
            }
            Err(error) => {
                return Err(EmbeddedError::Database(format!(
                    "{}: {error}",
                    file.display()
                )));
            }
        };
        schema::prepare(&db, &file)?;
        let keys = MemoryKeyStore::with_tombstones(MemoryTombstones::new(options.tombstone_period));
        let tombstones = keys.tombstones().clone();
        let loaded = load::everything(&db, &keys, &tombstones, options.clock.now())?;
        let db = Arc::new(db);
        let writer = Writer::start(Arc::clone(&db), keys::usage_tick(keys.clone()), USAGE_EVERY)?;
        if !loaded.expired_tombstones.is_empty() {
            let ops = loaded
                .expired_tombstones
                .into_iter()
                .map(|(kind, id)| Op::DeleteTombstone { kind, id })
                .collect();
            writer.send(ops, None);
        }
        Ok(EmbeddedStore {
            shared: Arc::new(Shared {
                writer,
                keys,
                tombstones,
                quotas: loaded.quotas,
                queue: Mutex::new(loaded.queue),
                admin: tokio::sync::Mutex::new(()),
                config_versions: crate::store::MemoryConfigVersions::with_applied(loaded.applied),
                plans: tokio::sync::Mutex::new(loaded.plans),
                endpoints: endpoints::EndpointTable::new(loaded.endpoints),
                next_attempt: std::sync::atomic::AtomicU64::new(loaded.next_attempt),
                db: std::sync::Mutex::new(Some(db)),
                closed: AtomicBool::new(false),
                dir: dir.to_owned(),
                lock: std::sync::Mutex::new(Some(lock)),
            }),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The key store.
    pub fn keys(&self) -> EmbeddedKeyStore {
        EmbeddedKeyStore {
            store: self.clone(),
        }
    }

    /// The tombstones.
    pub fn tombstones(&self) -> EmbeddedTombstones {
        EmbeddedTombstones {
            store: self.clone(),
        }
    }

    /// The quota counters.
    pub fn quotas(&self) -> EmbeddedQuotaStore {
        EmbeddedQuotaStore {
            store: self.clone(),
        }
    }

    /// The config file last reconciled with the store.
    pub fn config_versions(&self) -> EmbeddedConfigVersions {
        EmbeddedConfigVersions {
            store: self.clone(),
        }
    }

    /// The plans the admin API manages.
    pub fn plans(&self) -> EmbeddedPlanStore {
        EmbeddedPlanStore {
            store: self.clone(),
        }
    }

    /// The webhook endpoint records.
    pub fn webhook_endpoints(&self) -> EmbeddedEndpointStore {
        EmbeddedEndpointStore {
            store: self.clone(),
        }
    }

    /// The webhook delivery attempts, kept for `retention`.
    pub fn webhook_attempts(&self, retention: Duration) -> EmbeddedAttemptLog {
        EmbeddedAttemptLog::new(self.clone(), retention)
    }

    /// The webhook queue.
    pub fn webhook_queue(&self) -> EmbeddedWebhookQueue {
        EmbeddedWebhookQueue {
            store: self.clone(),
        }
    }

    /// Copies a consistent snapshot of the database to the file `to` (replaced if it exists),
    /// while the store keeps serving: the writer thread makes it between two commits.
    ///
    /// # Errors
    /// The file could not be written, or the store is closed.
    pub async fn backup(&self, to: impl Into<PathBuf>) -> Result<(), EmbeddedError> {
        self.shared.writer.snapshot(to.into()).await
    }

    /// Stops cleanly: quota ceilings come down to the units used (nothing is forfeited), the
    /// usage counted so far is written, and the writer thread ends. Calls after it fail with a
    /// store error; quota reservations are refused.
    pub async fn close(&self) {
        let shared = &self.shared;
        shared.closed.store(true, Ordering::Release);
        // Every block commit queued before this point ends first (the queue is in order), so
        // none lands after the settled counts.
        if let Err(error) = shared.writer.commit(Vec::new()).await {
            tracing::warn!(%error, "the embedded store's writer did not answer at shutdown");
        }
        let ops: Vec<Op> = shared
            .quotas
            .iter()
            .filter_map(|cell| {
                cell.settle().map(|ceiling| Op::SetCeiling {
                    key: cell.key().clone(),
                    ceiling,
                })
            })
            .collect();
        if !ops.is_empty()
            && let Err(error) = shared.writer.commit(ops).await
        {
            tracing::warn!(%error, "quota counts not settled at shutdown; the blocks are forfeited");
        }
        shared.writer.close().await;
        // The writer thread has dropped its handle; this one goes too, which closes the file,
        // and then the directory's lock.
        shared
            .db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        shared
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    /// The database for a read, while the store is open.
    pub(crate) fn database(&self) -> Option<Arc<Database>> {
        self.shared
            .db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.shared.dir)
            .field("keys", &self.shared.keys.len())
            .field("quota_counters", &self.shared.quotas.len())
            .finish_non_exhaustive()
    }
}
