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
//! A look-up the cache cannot answer is one `HMGET` (pipelined with the epoch marker's `HGET`
//! on a connection that watches an epoch: still one round trip). "No such key" answers are
//! kept too, under the same rule, so a key created elsewhere is refused for at most a second.
//! Both kinds are bounded ([`KeyCacheOptions`]): anyone can present new well-formed keys.
//!
//! Each process keeps one [`KeyEntry`](crate::key::KeyEntry) per hash (refreshed by every
//! look-up that reads Redis), so the auth stage counts a request on that entry's atomics and no
//! request waits for usage to be written: a task started by the store adds each entry's new
//! requests to `count` and raises `last_used` once a second ([`RedisKeyStore::FLUSH_EVERY`]).
//!
//! Every call that reads Redis reports its errors. For outages, put the store behind
//! [`WithFallback`](crate::store::WithFallback) with [`LastKnownKeys`](crate::key::LastKnownKeys),
//! like every shared store: it stops asking Redis while it does not answer and checks the keys
//! this process has seen against the entries this store last gave. The key cache's rule is in
//! the docs of [`RedisKeyStore`].

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::task::AbortHandle;

mod cache;
mod lookup;
mod record;
mod scripts;
mod stored;
mod upsert;
mod usage;
mod watch;
mod writes;

use cache::Freshness;
pub use cache::KeyCacheOptions;
pub use lookup::RedisKeyLookup;

use stored::{StoredFields, decode};
use usage::{Tracked, start_flusher};

use super::{RedisConnection, RedisTombstones};
use crate::clock::Timestamp;
use crate::key::{KeyHash, KeyHashState, KeyRecord, KeyStore, KeyStoreError, KeyUsage, Upserted};
use crate::store::{RecordOwner, StoreError};

/// The fields of a record's hash that a look-up reads, in the order of [`StoredFields`].
const RECORD_FIELDS: [&str; 4] = ["record", "revoked_at", "count", "last_used"];

/// API-key records in Redis, cached in process. Clones share one connection, one cache and its
/// background tasks.
///
/// # The key cache
///
/// A look-up is answered from memory when it can, so that an admitted request costs Redis only
/// its rate limit and its quota: **a change made on any instance is seen everywhere within one
/// second** ([`KeyCacheOptions::TRUSTED_FOR`]), most of them at once.
/// - Every script that changes a record (`insert.lua`, `upsert.lua`, `revoke.lua`) also moves
///   the counter `key:generation` and announces the change on the channel `key:changes`, in
///   the same step as the change.
/// - Each store subscribes to the channel and forgets every cached answer on a message. Pub/sub
///   loses messages while a subscriber reconnects, so that is only the fast path.
/// - Each store also reads the counter every [`KeyCacheOptions::POLL_EVERY`] (one `MGET`, with
///   the epoch check), forgets every cached answer when it moved (or the epoch changed, or the
///   poll failed, or there is no counter), and serves cached answers only while its last
///   successful poll was sent less than a second ago. This bound holds whatever pub/sub
///   delivers.
/// - A write of this process forgets every cached answer before it returns.
/// - "No such key" answers are cached by the same rule, so a key created elsewhere is refused
///   for at most a second. Both kinds are bounded ([`KeyCacheOptions`]): anyone can present
///   new well-formed keys.
/// - **When Redis does not answer**, polls fail, nothing is served from the cache a second
///   after the last one that succeeded, and look-ups read through to Redis and fail like any
///   call: put the store behind [`WithFallback`](crate::store::WithFallback) with
///   [`LastKnownKeys`](crate::key::LastKnownKeys) for `store.on_store_error`. A Redis that
///   lost its data is met by the epoch check of the request's rate-limit or quota call, and by
///   the next poll.
///
/// Build it inside a tokio runtime: the constructor starts the task that flushes usage every
/// [`RedisKeyStore::FLUSH_EVERY`], the cache's poll and its pub/sub subscription (one
/// connection of its own). Without a runtime it logs, only [`RedisKeyStore::flush_usage`]
/// writes usage, and every look-up reads Redis. The tasks end when the last clone is dropped,
/// which flushes what is left in the background.
#[derive(Clone, Debug)]
pub struct RedisKeyStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connection: RedisConnection,
    tombstones: RedisTombstones,
    /// The entry of each hash looked up, whose atomics the auth stage bumps, and which the
    /// cache answers with while its record is confirmed in the current view.
    cache: DashMap<KeyHash, Arc<Tracked>, KeyHashState>,
    /// Hashes a look-up found no record for, with the view it read that in. Any client picks
    /// these digests (it presents the keys), so this map hashes them with a keyed hasher: with
    /// [`KeyHashState`] a client could grind keys whose digests crowd one bucket.
    unknown: DashMap<KeyHash, u64>,
    /// The cache's view and trust, shared with the poll and the subscription.
    fresh: Arc<Freshness>,
    options: KeyCacheOptions,
    /// The poll and the subscription, ended with the store.
    watchers: Vec<AbortHandle>,
    /// Entries replaced in the cache (their record changed) or dropped from it (it was full)
    /// that may still be counted on by requests holding them; dropped once flushed and held by
    /// no one else.
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
        Self::with_cache(connection, tombstones, KeyCacheOptions::default())
    }

    /// A store like [`with_tombstones`](Self::with_tombstones) whose key cache is bounded and
    /// kept fresh as `options` say.
    pub fn with_cache(
        connection: RedisConnection,
        tombstones: RedisTombstones,
        options: KeyCacheOptions,
    ) -> Self {
        let fresh = Arc::new(Freshness::new());
        let watchers = watch::start(&fresh, &connection, &options);
        let inner = Arc::new(Inner {
            connection,
            tombstones,
            cache: DashMap::default(),
            unknown: DashMap::default(),
            fresh,
            options,
            watchers,
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
    fn track(&self, hash: KeyHash, record: KeyRecord, stored: KeyUsage) -> Arc<Tracked> {
        if !self.cache.contains_key(&hash) {
            self.make_room();
        }
        match self.cache.entry(hash) {
            Entry::Occupied(mut slot) if slot.get().entry.record() != &record => {
                let tracked = Tracked::new(hash, record, stored);
                let replaced = slot.insert(Arc::clone(&tracked));
                self.retire(replaced);
                tracked
            }
            Entry::Occupied(slot) => Arc::clone(slot.get()),
            Entry::Vacant(slot) => {
                let tracked = Tracked::new(hash, record, stored);
                slot.insert(Arc::clone(&tracked));
                tracked
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
    type Lookup = RedisKeyLookup;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        RedisKeyLookup::new(&self.inner, *hash)
    }

    fn insert(
        &self,
        record: KeyRecord,
        _now: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        async move { inner.insert(record).await }
    }

    fn revoke(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        let inner = Arc::clone(&self.inner);
        let id: Arc<str> = Arc::from(id);
        async move { inner.revoke(id, at).await }
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
