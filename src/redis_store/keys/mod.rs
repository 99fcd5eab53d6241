//! `RedisKeyStore`: API-key records shared by every instance, with usage counted locally and
//! flushed in the background.
//!
//! What is stored where (under the connection's prefix):
//! - `key:hash:<hex sha256>`: a hash with the fields `record` (the record as JSON, without its
//!   revocation), `revoked_at` (unix milliseconds, absent while live), `count` (requests counted)
//!   and `last_used` (unix milliseconds);
//! - `key:id:<id>`: the hex sha256 of the record with that id;
//! - `key:owner:config`, `key:owner:api`: the ids of the records each owner manages, for
//!   reconciling the config file (records stored before owners existed are in neither, and
//!   read as config-owned);
//! - tombstones for revoked ids and hashes, through [`RedisTombstones`].
//!
//! A read by id ([`KeyStore::record`]) is two round trips: the id index, then the record with
//! the index again (see `record.rs`).
//!
//! A look-up is one `HMGET` (pipelined with the epoch marker's `HGET` on a connection that
//! watches an epoch: still one round trip). Each process keeps one [`KeyEntry`] per hash (refreshed by every
//! look-up), so the auth stage counts a request on that entry's atomics and no request waits for
//! usage to be written: a task started by the store adds each entry's new requests to `count`
//! and raises `last_used` once a second ([`RedisKeyStore::FLUSH_EVERY`]).
//!
//! Every call goes to Redis and reports its errors. For outages, put the store behind
//! [`WithFallback`](crate::store::WithFallback) with [`LastKnownKeys`](crate::key::LastKnownKeys),
//! like every shared store: it stops asking Redis while it does not answer and checks the keys
//! this process has seen against the entries this store last gave.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

mod record;
mod scripts;
mod stored;
mod upsert;
mod usage;

use scripts::{INSERT, REVOKE};
use stored::{StoredFields, StoredRecord, decode, encode};
use usage::{Tracked, start_flusher};

use super::{RedisConnection, RedisTombstones};
use crate::clock::Timestamp;
use crate::key::{KeyEntry, KeyHash, KeyRecord, KeyStore, KeyStoreError, KeyUsage, Upserted};
use crate::store::{RecordOwner, StoreError};
use crate::tombstone::{TombstoneKind, TombstoneStore};

/// The fields of a record's hash that a look-up reads, in the order of [`StoredFields`].
const RECORD_FIELDS: [&str; 4] = ["record", "revoked_at", "count", "last_used"];

/// The future of [`RedisKeyStore::find_by_hash`](KeyStore::find_by_hash): one `HMGET`.
type LookupFuture = Pin<Box<dyn Future<Output = Result<Option<Arc<KeyEntry>>, StoreError>> + Send>>;

/// API-key records in Redis. Clones share one connection, one local entry cache and one
/// background flush task.
///
/// Build it inside a tokio runtime: the constructor starts the task that flushes usage every
/// [`RedisKeyStore::FLUSH_EVERY`] (without a runtime it logs, and only
/// [`RedisKeyStore::flush_usage`] writes usage). The task ends when the last clone is dropped,
/// which flushes what is left in the background.
#[derive(Clone, Debug)]
pub struct RedisKeyStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connection: RedisConnection,
    tombstones: RedisTombstones,
    /// The entry of each hash looked up, whose atomics the auth stage bumps.
    cache: DashMap<KeyHash, Arc<Tracked>>,
    /// Entries replaced in the cache (their record changed) that may still be counted on by
    /// requests holding them; dropped once flushed and held by no one else.
    retired: Mutex<Vec<Arc<Tracked>>>,
    /// One flush at a time, and no flush between the two halves of a usage read.
    flush_lock: tokio::sync::Mutex<()>,
    /// Set once this process has put the records stored before records had owners into the
    /// file's owner index (see `index_legacy_records`).
    legacy_indexed: tokio::sync::OnceCell<()>,
}

impl RedisKeyStore {
    /// How often usage counted locally is written to Redis.
    pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

    /// A store on `connection` with its own tombstones, kept 90 days.
    pub fn new(connection: RedisConnection) -> Self {
        let tombstones =
            RedisTombstones::new(connection.clone(), RedisTombstones::DEFAULT_KEEP_FOR);
        Self::with_tombstones(connection, tombstones)
    }

    /// A store on `connection` that leaves and checks tombstones in `tombstones`, shared with
    /// the rest of the application.
    pub fn with_tombstones(connection: RedisConnection, tombstones: RedisTombstones) -> Self {
        let inner = Arc::new(Inner {
            connection,
            tombstones,
            cache: DashMap::new(),
            retired: Mutex::new(Vec::new()),
            flush_lock: tokio::sync::Mutex::new(()),
            legacy_indexed: tokio::sync::OnceCell::new(),
        });
        start_flusher(&inner);
        RedisKeyStore { inner }
    }

    /// The tombstones this store leaves and checks.
    pub fn tombstones(&self) -> &RedisTombstones {
        &self.inner.tombstones
    }

    /// Writes the usage counted so far to Redis now, instead of at the next tick of the
    /// background task; when it returns, every use recorded before the call is in Redis.
    pub async fn flush_usage(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }
}

impl Inner {
    fn hash_key(&self, hash: &KeyHash) -> String {
        self.connection.keyspace().key_record(hash)
    }

    fn id_key(&self, id: &str) -> String {
        self.connection.keyspace().key_id_index(id)
    }

    /// The process's entry for this record: the cached one while the record is unchanged, so
    /// that every request of this process counts on the same atomics.
    fn entry_for(&self, hash: KeyHash, record: KeyRecord, stored: KeyUsage) -> Arc<KeyEntry> {
        match self.cache.entry(hash) {
            Entry::Occupied(mut slot) if slot.get().entry.record() != &record => {
                let fresh = Tracked::new(hash, record, stored);
                let entry = Arc::clone(&fresh.entry);
                let replaced = slot.insert(fresh);
                self.retire(replaced);
                entry
            }
            Entry::Occupied(slot) => Arc::clone(&slot.get().entry),
            Entry::Vacant(slot) => {
                let fresh = Tracked::new(hash, record, stored);
                let entry = Arc::clone(&fresh.entry);
                slot.insert(fresh);
                entry
            }
        }
    }

    /// The fields of the record of `hash`: one `HMGET`, with the epoch check in its round trip
    /// (an emptied Redis must not answer "no such key" for a key it lost).
    async fn fields(&self, hash: &KeyHash) -> Result<StoredFields, StoreError> {
        let mut lookup = redis::cmd("HMGET");
        lookup.arg(self.hash_key(hash)).arg(&RECORD_FIELDS);
        self.connection.timed_on_epoch(lookup).await
    }
}

impl KeyStore for RedisKeyStore {
    type Lookup = LookupFuture;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        let (inner, hash) = (Arc::clone(&self.inner), *hash);
        Box::pin(async move {
            let fields = inner.fields(&hash).await?;
            let Some((record, stored)) = decode(hash, fields)? else {
                if let Some((_, gone)) = inner.cache.remove(&hash) {
                    inner.retire(gone);
                }
                return Ok(None);
            };
            Ok(Some(inner.entry_for(hash, record, stored)))
        })
    }

    fn insert(
        &self,
        record: KeyRecord,
        _now: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        async move {
            let hex = record.sha256.to_hex();
            let tombstones = &inner.tombstones;
            let keys = [
                inner.id_key(&record.id),
                inner.hash_key(&record.sha256),
                tombstones.key(TombstoneKind::ApiKeyId, &record.id),
                tombstones.key(TombstoneKind::ApiKeyHash, &hex),
                inner.connection.keyspace().key_owner_index(record.owner),
            ];
            let json = encode(&record)?;
            let revoked_at = record
                .revoked_at
                .map_or_else(String::new, |at| at.unix_millis().to_string());
            let mut manager = inner.connection.manager();
            let answer: Vec<String> = inner
                .connection
                .timed(
                    INSERT
                        .key(&keys)
                        .arg(&hex)
                        .arg(&json)
                        .arg(&revoked_at)
                        .arg(&*record.id)
                        .invoke_async(&mut manager),
                )
                .await?;
            match answer.first().map(String::as_str) {
                // Tracked from now on: requests counted before its first look-up are flushed.
                Some("ok") => {
                    inner.entry_for(record.sha256, record.clone(), KeyUsage::default());
                }
                Some("tombstoned") => return Err(KeyStoreError::Tombstoned(record.id)),
                Some("duplicate_id") => return Err(KeyStoreError::DuplicateId(record.id)),
                Some("duplicate_hash") => {
                    let existing = answer
                        .get(1)
                        .and_then(|json| serde_json::from_str::<StoredRecord>(json).ok())
                        .map(|stored| stored.id)
                        .ok_or_else(|| StoreError::new("redis: unreadable key record"))?;
                    return Err(KeyStoreError::DuplicateHash {
                        id: record.id,
                        existing,
                    });
                }
                _ => return Err(StoreError::new("redis: unexpected answer to a key insert").into()),
            }
            // A record that arrives already revoked (from the config file) is tombstoned too.
            if let Some(at) = record.revoked_at {
                leave_tombstones(tombstones, &record.id, &hex, at).await?;
            }
            Ok(())
        }
    }

    fn revoke(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        let id: Arc<str> = Arc::from(id);
        async move {
            let hash = inner.hash_of(&id).await?;
            let hex = hash.to_hex();
            let key = inner.hash_key(&hash);
            let mut manager = inner.connection.manager();
            let revoked: i64 = inner
                .connection
                .timed(
                    REVOKE
                        .key(&key)
                        .arg(at.unix_millis())
                        .invoke_async(&mut manager),
                )
                .await?;
            if revoked == 0 {
                return Err(KeyStoreError::UnknownKey(id));
            }
            leave_tombstones(&inner.tombstones, &id, &hex, at).await?;
            Ok(())
        }
    }

    fn usage(&self, id: &str) -> impl Future<Output = Result<KeyUsage, KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        let id: Arc<str> = Arc::from(id);
        async move {
            // Redis and the local deltas are read with no flush in between, so a use is counted
            // once: either already in Redis or still here.
            let _no_flush = inner.flush_lock.lock().await;
            let hash = inner.hash_of(&id).await?;
            let fields = inner.fields(&hash).await?;
            let Some((_, stored)) = decode(hash, fields)? else {
                return Err(KeyStoreError::UnknownKey(id));
            };
            let (count, last) = inner.unflushed(&hash);
            let last = last.map(Timestamp::from_unix_millis).max(stored.last_used);
            Ok(KeyUsage {
                request_count: stored.request_count + count,
                last_used: last,
            })
        }
    }

    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        let id: Arc<str> = Arc::from(id);
        async move { Ok(inner.record(&id).await?) }
    }

    fn upsert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<Upserted, KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        async move { inner.upsert(record, now).await }
    }

    fn owned_records(
        &self,
        owner: RecordOwner,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        async move { Ok(inner.owned_records(owner).await?) }
    }
}

impl Inner {
    /// The hash the id index gives for `id`.
    async fn hash_of(&self, id: &Arc<str>) -> Result<KeyHash, KeyStoreError> {
        let mut manager = self.connection.manager();
        let hex: Option<String> = self
            .connection
            .timed(
                redis::cmd("GET")
                    .arg(self.id_key(id))
                    .query_async(&mut manager),
            )
            .await?;
        let hex = hex.ok_or_else(|| KeyStoreError::UnknownKey(Arc::clone(id)))?;
        let hash =
            KeyHash::from_hex(&hex).map_err(|_| StoreError::new("redis: unreadable key index"))?;
        Ok(hash)
    }
}

async fn leave_tombstones(
    tombstones: &RedisTombstones,
    id: &str,
    hex: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    tombstones.leave(TombstoneKind::ApiKeyId, id, at).await?;
    tombstones.leave(TombstoneKind::ApiKeyHash, hex, at).await
}
