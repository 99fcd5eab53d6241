//! `RedisKeyStore`: API-key records shared by every instance, with usage counted locally and
//! flushed in the background.
//!
//! What is stored where (under the connection's prefix):
//! - `key:hash:<hex sha256>`: a hash with the fields `record` (the record as JSON, without its
//!   revocation), `revoked_at` (unix milliseconds, absent while live), `count` (requests counted)
//!   and `last_used` (unix milliseconds);
//! - `key:id:<id>`: the hex sha256 of the record with that id;
//! - tombstones for revoked ids and hashes, through [`RedisTombstones`].
//!
//! A look-up is one `HMGET`. Each process keeps one [`KeyEntry`] per hash (refreshed by every
//! look-up), so the auth stage counts a request on that entry's atomics and no request waits for
//! usage to be written: a task started by the store adds each entry's new requests to `count`
//! and raises `last_used` once a second ([`RedisKeyStore::FLUSH_EVERY`]).
//!
//! While Redis does not answer, [`RedisKeyStore::with_store_error_policy`] decides: under
//! `local` (the default) and `allow`, a key this process has seen (looked up or inserted) is
//! checked against its last known record; a key it has never seen gets 503, since no policy
//! admits a key that cannot be checked. Under `deny` every look-up is 503.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use redis::Script;
use serde::{Deserialize, Serialize};

use super::quota::key_part;
use super::{RedisConnection, RedisTombstones};
use crate::clock::Timestamp;
use crate::config::StoreErrorPolicy;
use crate::environment::Environment;
use crate::key::{KeyEntry, KeyHash, KeyRecord, KeyStore, KeyStoreError, KeyUsage};
use crate::store::StoreError;
use crate::store::breaker::Breaker;
use crate::tombstone::{TombstoneKind, TombstoneStore};

/// Adds a record unless a tombstone, its id or its hash is in the way: all checks and both
/// writes in one step, so nothing needs rolling back.
///
/// KEYS: id index, record hash, id tombstone, hash tombstone. ARGV: hex hash, JSON, revoked_at
/// (or empty). Returns `{'ok'}`, `{'tombstoned'}`, `{'duplicate_id'}` or
/// `{'duplicate_hash', <JSON of the record holding the hash>}`.
static INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then
  return {'tombstoned'}
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then
  return {'duplicate_id'}
end
if redis.call('HSETNX', KEYS[2], 'record', ARGV[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return {'duplicate_hash', redis.call('HGET', KEYS[2], 'record')}
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'revoked_at', ARGV[3])
end
return {'ok'}
",
    )
});

/// Sets `revoked_at` unless an earlier instant is there; 0 if the record does not exist.
static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], 'record') == 0 then
  return 0
end
local old = redis.call('HGET', KEYS[1], 'revoked_at')
if not old or tonumber(ARGV[1]) < tonumber(old) then
  redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
end
return 1
",
    )
});

/// Adds usage deltas: for each record KEYS[i], ARGV[2i - 1] requests and ARGV[2i] the last use
/// (or empty), which only ever raises `last_used`. Records that vanished are skipped.
static FLUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, 'record') == 1 then
    local count = tonumber(ARGV[2 * i - 1])
    if count > 0 then
      redis.call('HINCRBY', key, 'count', count)
    end
    local last = ARGV[2 * i]
    if last ~= '' then
      local old = redis.call('HGET', key, 'last_used')
      if not old or tonumber(last) > tonumber(old) then
        redis.call('HSET', key, 'last_used', last)
      end
    end
  end
end
return 0
",
    )
});

/// Records per flush call, so that one script never runs long on the server.
const FLUSH_BATCH: usize = 256;

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
    policy: StoreErrorPolicy,
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
    /// Skips Redis during an outage, so that look-ups answer without waiting for a timeout.
    breaker: Arc<Breaker>,
}

/// An entry with what of its usage Redis already has.
#[derive(Debug)]
struct Tracked {
    hash: KeyHash,
    entry: Arc<KeyEntry>,
    flushed_count: AtomicU64,
    flushed_last: AtomicI64,
}

/// Usage of one entry not yet in Redis, as seen when a flush started.
struct Pending {
    tracked: Arc<Tracked>,
    count: u64,
    delta: u64,
    last: Option<i64>,
}

/// A record as stored in the `record` field; the hash is the key, revocation its own field.
#[derive(Serialize, Deserialize)]
struct StoredRecord {
    id: Arc<str>,
    project: Arc<str>,
    environment: Environment,
    #[serde(default)]
    rps: Option<u32>,
    #[serde(default)]
    rpm: Option<u32>,
    #[serde(default)]
    expires_at: Option<i64>,
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
            breaker: Arc::new(Breaker::new("api keys")),
        });
        start_flusher(&inner);
        RedisKeyStore {
            inner,
            policy: StoreErrorPolicy::default(),
        }
    }

    /// What look-ups do while Redis does not answer (see the module docs); `local` unless set.
    #[must_use]
    pub fn with_store_error_policy(mut self, policy: StoreErrorPolicy) -> Self {
        self.policy = policy;
        self
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

fn start_flusher(inner: &Arc<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            "RedisKeyStore built outside a tokio runtime: key usage is written only by flush_usage"
        );
        return;
    };
    let inner: Weak<Inner> = Arc::downgrade(inner);
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(RedisKeyStore::FLUSH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            if let Err(error) = inner.flush().await {
                tracing::warn!(%error, "key usage not flushed; retrying at the next tick");
            }
        }
    });
}

impl Inner {
    fn hash_key(&self, hash: &KeyHash) -> String {
        self.connection.key(&["key", "hash", &hash.to_hex()])
    }

    fn id_key(&self, id: &str) -> String {
        self.connection.key(&["key", "id", &key_part(id)])
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

    /// The entry this process last saw for `hash`, when `policy` lets an outage use it.
    fn last_known(&self, hash: &KeyHash, policy: StoreErrorPolicy) -> Option<Arc<KeyEntry>> {
        match policy {
            StoreErrorPolicy::Local | StoreErrorPolicy::Allow => self
                .cache
                .get(hash)
                .map(|tracked| Arc::clone(&tracked.entry)),
            StoreErrorPolicy::Deny => None,
        }
    }

    fn retire(&self, tracked: Arc<Tracked>) {
        if let Ok(mut retired) = self.retired.lock() {
            retired.push(tracked);
        }
    }

    fn tracked(&self) -> Vec<Arc<Tracked>> {
        let mut all: Vec<_> = self.cache.iter().map(|t| Arc::clone(t.value())).collect();
        if let Ok(retired) = self.retired.lock() {
            all.extend(retired.iter().cloned());
        }
        all
    }

    /// The usage of every entry that Redis does not have yet.
    fn pending(&self) -> Vec<Pending> {
        self.tracked()
            .into_iter()
            .filter_map(|tracked| tracked.pending())
            .collect()
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.flush_lock.lock().await;
        // Taken before reading usage: an entry no one else holds can gain no more uses.
        let idle: Vec<Arc<Tracked>> = match self.retired.lock() {
            Ok(retired) => retired
                .iter()
                .filter(|t| Arc::strong_count(&t.entry) == 1)
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        };
        let pending = self.pending();
        for batch in pending.chunks(FLUSH_BATCH) {
            send(&self.connection, self, batch).await?;
            for done in batch {
                done.tracked
                    .flushed_count
                    .store(done.count, Ordering::Release);
                if let Some(last) = done.last {
                    done.tracked.flushed_last.store(last, Ordering::Release);
                }
            }
        }
        if let Ok(mut retired) = self.retired.lock() {
            retired.retain(|t| !idle.iter().any(|idle| Arc::ptr_eq(idle, t)));
        }
        Ok(())
    }

    /// Requests and last use of `hash` counted here and not flushed yet.
    fn unflushed(&self, hash: &KeyHash) -> (u64, Option<i64>) {
        self.tracked()
            .into_iter()
            .filter(|t| t.hash == *hash)
            .filter_map(|t| t.pending())
            .fold((0, None), |(count, last), p| {
                (count + p.delta, last.max(p.last))
            })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let pending = self.pending();
        if pending.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                keys = pending.len(),
                "RedisKeyStore dropped outside a tokio runtime: unflushed key usage lost"
            );
            return;
        };
        let connection = self.connection.clone();
        let keys: Vec<String> = pending
            .iter()
            .map(|p| self.hash_key(&p.tracked.hash))
            .collect();
        runtime.spawn(async move {
            for (keys, batch) in keys.chunks(FLUSH_BATCH).zip(pending.chunks(FLUSH_BATCH)) {
                if let Err(error) = send_keys(&connection, keys, batch).await {
                    tracing::warn!(%error, "key usage lost when the store was dropped");
                }
            }
        });
    }
}

async fn send(
    connection: &RedisConnection,
    inner: &Inner,
    batch: &[Pending],
) -> Result<(), StoreError> {
    let keys: Vec<String> = batch
        .iter()
        .map(|p| inner.hash_key(&p.tracked.hash))
        .collect();
    send_keys(connection, &keys, batch).await
}

async fn send_keys(
    connection: &RedisConnection,
    keys: &[String],
    batch: &[Pending],
) -> Result<(), StoreError> {
    let mut invocation = FLUSH.prepare_invoke();
    invocation.key(keys);
    for pending in batch {
        invocation
            .arg(pending.delta)
            .arg(pending.last.map_or_else(String::new, |l| l.to_string()));
    }
    let mut manager = connection.manager();
    connection
        .timed(invocation.invoke_async::<i64>(&mut manager))
        .await
        .map(|_| ())
}

impl Tracked {
    fn new(hash: KeyHash, record: KeyRecord, stored: KeyUsage) -> Arc<Self> {
        Arc::new(Tracked {
            hash,
            entry: Arc::new(KeyEntry::with_usage(record, stored)),
            flushed_count: AtomicU64::new(stored.request_count),
            flushed_last: AtomicI64::new(stored.last_used.map_or(i64::MIN, Timestamp::unix_millis)),
        })
    }

    fn pending(self: Arc<Self>) -> Option<Pending> {
        let usage = self.entry.usage();
        let delta = usage
            .request_count
            .saturating_sub(self.flushed_count.load(Ordering::Acquire));
        let last = usage
            .last_used
            .map(Timestamp::unix_millis)
            .filter(|last| *last > self.flushed_last.load(Ordering::Acquire));
        (delta > 0 || last.is_some()).then_some(Pending {
            count: usage.request_count,
            delta,
            last,
            tracked: self,
        })
    }
}

impl KeyStore for RedisKeyStore {
    type Lookup = LookupFuture;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        let inner = Arc::clone(&self.inner);
        let (hash, policy) = (*hash, self.policy);
        Box::pin(async move {
            let mut command = redis::cmd("HMGET");
            command
                .arg(inner.hash_key(&hash))
                .arg(&["record", "revoked_at", "count", "last_used"]);
            let connection = inner.connection.clone();
            let call = inner.breaker.attempt(
                policy,
                || async move {
                    let mut manager = connection.manager();
                    connection
                        .timed(command.query_async::<StoredFields>(&mut manager))
                        .await
                },
                // A read: a probe's answer only tells whether Redis is back.
                |_| {},
            );
            let fields = match inner.breaker.answer(policy, call).await {
                Ok(fields) => fields,
                Err(error) => return inner.last_known(&hash, policy).ok_or(error).map(Some),
            };
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
                        .invoke_async(&mut manager),
                )
                .await?;
            match answer.first().map(String::as_str) {
                // Seen by this process from now on, so it still authenticates here during an
                // outage that starts before its first request.
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
            let hex = inner.hash_of(&id).await?;
            let key = inner.connection.key(&["key", "hash", &hex]);
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
            let hex = inner.hash_of(&id).await?;
            let hash = KeyHash::from_hex(&hex)
                .map_err(|_| StoreError::new("redis: unreadable key index"))?;
            let mut manager = inner.connection.manager();
            let fields: StoredFields = inner
                .connection
                .timed(
                    redis::cmd("HMGET")
                        .arg(inner.hash_key(&hash))
                        .arg(&["record", "revoked_at", "count", "last_used"])
                        .query_async(&mut manager),
                )
                .await?;
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
}

impl Inner {
    /// The hex hash the id index gives for `id`.
    async fn hash_of(&self, id: &Arc<str>) -> Result<String, KeyStoreError> {
        let mut manager = self.connection.manager();
        let hex: Option<String> = self
            .connection
            .timed(
                redis::cmd("GET")
                    .arg(self.id_key(id))
                    .query_async(&mut manager),
            )
            .await?;
        hex.ok_or_else(|| KeyStoreError::UnknownKey(Arc::clone(id)))
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

/// `record`, `revoked_at`, `count` and `last_used` of a record's hash.
type StoredFields = (Option<String>, Option<i64>, Option<u64>, Option<i64>);

fn encode(record: &KeyRecord) -> Result<String, StoreError> {
    serde_json::to_string(&StoredRecord {
        id: Arc::clone(&record.id),
        project: Arc::clone(&record.project),
        environment: record.environment,
        rps: record.rps,
        rpm: record.rpm,
        expires_at: record.expires_at.map(Timestamp::unix_millis),
    })
    .map_err(|_| StoreError::new("key record not encodable"))
}

fn decode(
    hash: KeyHash,
    fields: StoredFields,
) -> Result<Option<(KeyRecord, KeyUsage)>, StoreError> {
    let (Some(json), revoked_at, count, last_used) = fields else {
        return Ok(None);
    };
    let stored: StoredRecord =
        serde_json::from_str(&json).map_err(|_| StoreError::new("redis: unreadable key record"))?;
    let record = KeyRecord {
        id: stored.id,
        sha256: hash,
        project: stored.project,
        environment: stored.environment,
        rps: stored.rps,
        rpm: stored.rpm,
        expires_at: stored.expires_at.map(Timestamp::from_unix_millis),
        revoked_at: revoked_at.map(Timestamp::from_unix_millis),
    };
    let usage = KeyUsage {
        request_count: count.unwrap_or(0),
        last_used: last_used.map(Timestamp::from_unix_millis),
    };
    Ok(Some((record, usage)))
}
