//! The key cache of `RedisKeyStore` between instances (two stores, each on a connection of its
//! own, standing for two processes): a key created, updated, revoked or flushed away on one is
//! seen on the other within a second, with its pub/sub subscription and by the poll alone; the
//! cache keeps to its caps; and an admitted request whose key is cached costs two round trips,
//! its rate limit and its quota.
//!
//! These wait on the real clock, a second at most per change: the rule under test is a
//! deadline kept by a background poll of Redis.

use std::sync::Arc;
use std::time::{Duration, Instant};

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::key::{KeyEntry, KeyHash, KeyRecord, KeyStore};
use memorysync_pipeline::redis_store::{
    KeyCacheOptions, RedisConnection, RedisKeyStore, RedisOptions, RedisTombstones,
};
use memorysync_pipeline::store::StoreErrorPolicy;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::redis::{RedisServer, TestPrefix};
use crate::outage::tenant::Tenant;

fn hash(n: u8) -> KeyHash {
    KeyHash::from_bytes([n; 32])
}

fn record(id: &str, n: u8) -> KeyRecord {
    KeyRecord::new(id, hash(n), "proj_a", Environment::Development)
}

fn store_on(connection: RedisConnection, options: KeyCacheOptions) -> RedisKeyStore {
    let tombstones = RedisTombstones::new(connection.clone(), RedisTombstones::DEFAULT_KEEP_FOR);
    RedisKeyStore::with_cache(connection, tombstones, options)
}

/// Looks `hash` up until the answer is served from memory: the cache is warm and trusted.
async fn until_cached(store: &RedisKeyStore, hash: &KeyHash) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if answered_from_memory(store, hash).await {
            return;
        }
        assert!(Instant::now() < deadline, "the cache never answered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Looks `hash` up on `store` until `current` holds for the answer; a look-up sent a second or
/// more after `changed` (when the change returned) that still gives the old answer fails the
/// test. How long it took.
async fn seen_within_a_second(
    what: &str,
    store: &RedisKeyStore,
    hash: &KeyHash,
    changed: Instant,
    current: impl Fn(Option<&Arc<KeyEntry>>) -> bool,
) -> Duration {
    loop {
        let sent = changed.elapsed();
        let found = store.find_by_hash(hash).await.unwrap();
        if current(found.as_ref()) {
            println!("{what}: seen after {sent:?}");
            return sent;
        }
        assert!(
            sent < KeyCacheOptions::TRUSTED_FOR,
            "{what}: still the old answer {sent:?} after the change"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Each change made through `a` is seen by `b`, which had the old answer cached, within a
/// second; so is a flush of everything under the prefix.
async fn changes_on_a_reach_b(prefix: &TestPrefix, b_options: KeyCacheOptions) {
    let a = store_on(prefix.connect().await, KeyCacheOptions::new());
    let b = store_on(prefix.connect().await, b_options);
    let now = SystemClock.now();

    // Created on a: b, which cached "no such key", accepts it.
    until_cached(&b, &hash(1)).await;
    assert!(b.find_by_hash(&hash(1)).await.unwrap().is_none());
    a.insert(record("key_a", 1), now).await.unwrap();
    let changed = Instant::now();
    seen_within_a_second("created", &b, &hash(1), changed, |found| found.is_some()).await;

    // Updated on a: b applies the new limits.
    until_cached(&b, &hash(1)).await;
    let limited = record("key_a", 1).with_limits(Some(3), Some(30));
    a.upsert(limited.clone(), now).await.unwrap();
    let changed = Instant::now();
    seen_within_a_second("updated", &b, &hash(1), changed, |found| {
        found.is_some_and(|entry| entry.record() == &limited)
    })
    .await;

    // Revoked on a: b refuses it.
    until_cached(&b, &hash(1)).await;
    a.revoke("key_a", now).await.unwrap();
    let changed = Instant::now();
    seen_within_a_second("revoked", &b, &hash(1), changed, |found| {
        found.is_some_and(|entry| entry.record().revoked_at.is_some())
    })
    .await;

    // Everything under the prefix deleted, as a FLUSHALL does: b no longer answers from memory.
    until_cached(&b, &hash(1)).await;
    let keys = prefix.keys();
    let mut raw = redis::Client::open(prefix.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: usize = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut raw)
        .await
        .unwrap();
    let changed = Instant::now();
    seen_within_a_second("flushed", &b, &hash(1), changed, |found| found.is_none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_updated_revoked_or_flushed_on_one_instance_is_seen_on_another_within_a_second()
 {
    let Some(prefix) = TestPrefix::new("key-cache") else {
        return;
    };
    changes_on_a_reach_b(&prefix, KeyCacheOptions::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pubsub_the_poll_alone_shows_every_change_within_a_second() {
    let Some(prefix) = TestPrefix::new("key-cache-poll") else {
        return;
    };
    changes_on_a_reach_b(&prefix, KeyCacheOptions::new().without_pubsub()).await;
}

/// Whether a look-up of `hash` on `store` is answered from memory.
async fn answered_from_memory(store: &RedisKeyStore, hash: &KeyHash) -> bool {
    let lookup = store.find_by_hash(hash);
    let cached = format!("{lookup:?}").contains("cached");
    lookup.await.unwrap();
    cached
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_holds_no_more_records_or_unknown_hashes_than_its_caps() {
    let Some(prefix) = TestPrefix::new("key-cache-caps") else {
        return;
    };
    // Without a subscription: its first message would empty the cache at a time of its own.
    let options = KeyCacheOptions::new()
        .with_max_records(1)
        .with_max_unknown(1)
        .without_pubsub();
    let store = store_on(prefix.connect().await, options);
    let now = SystemClock.now();
    store.insert(record("key_a", 1), now).await.unwrap();
    store.insert(record("key_b", 2), now).await.unwrap();

    // One record at a time: reading the other drops it.
    until_cached(&store, &hash(1)).await;
    assert!(!answered_from_memory(&store, &hash(2)).await);
    assert!(answered_from_memory(&store, &hash(2)).await);
    assert!(!answered_from_memory(&store, &hash(1)).await, "dropped");

    // One unknown hash at a time: a new one forgets the others.
    until_cached(&store, &hash(98)).await;
    assert!(!answered_from_memory(&store, &hash(99)).await);
    assert!(answered_from_memory(&store, &hash(99)).await);
    assert!(!answered_from_memory(&store, &hash(98)).await, "forgotten");
    assert!(store.find_by_hash(&hash(98)).await.unwrap().is_none());
}

/// The commands Redis received from clients (not from scripts), through `MONITOR` on a
/// connection of its own.
struct Monitor {
    lines: tokio::sync::watch::Receiver<Vec<String>>,
    control: redis::aio::MultiplexedConnection,
    marks: usize,
}

impl Monitor {
    async fn start(url: &str) -> Monitor {
        let address = url.trim_start_matches("redis://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(b"MONITOR\r\n").await.unwrap();
        let mut reader = BufReader::new(stream);
        let mut ok = String::new();
        reader.read_line(&mut ok).await.unwrap();
        assert_eq!(ok.trim_end(), "+OK");
        let (send, lines) = tokio::sync::watch::channel(Vec::new());
        tokio::spawn(async move {
            let mut reader = reader.lines();
            while let Ok(Some(line)) = reader.next_line().await {
                // Commands a script sends are shown as from `lua`: not a round trip.
                if !line.contains(" lua] ") {
                    send.send_modify(|lines| lines.push(line));
                }
            }
        });
        let control = redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        Monitor {
            lines,
            control,
            marks: 0,
        }
    }

    /// How many commands the monitor has shown, once it showed everything sent before this call.
    async fn mark(&mut self) -> usize {
        self.marks += 1;
        let mark = format!("mark-{}", self.marks);
        let _: String = redis::cmd("ECHO")
            .arg(&mark)
            .query_async(&mut self.control)
            .await
            .unwrap();
        let quoted = format!("\"{mark}\"");
        let lines = self
            .lines
            .wait_for(|lines| lines.iter().any(|line| line.contains(&quoted)))
            .await
            .unwrap();
        lines.len()
    }

    /// The commands shown between two marks, each as its name and first argument.
    fn between(&self, from: usize, to: usize) -> Vec<(String, String)> {
        self.lines.borrow()[from..to]
            .iter()
            .filter_map(|line| {
                let (_, command) = line.split_once("] ")?;
                let mut words = command.split('"').skip(1).step_by(2);
                let name = words.next()?.to_ascii_uppercase();
                Some((name, words.next().unwrap_or_default().to_owned()))
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admitted_request_whose_key_is_cached_costs_two_round_trips() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let url = redis.url();
    let connection = RedisConnection::connect(&url, RedisOptions::default())
        .await
        .unwrap();
    let tenant = Tenant::new(&connection, StoreErrorPolicy::Local, Some(1_000_000)).await;
    let mut monitor = Monitor::start(&url).await;
    let script = |text: &str| redis::Script::new(text).get_hash().to_owned();
    let limit = script(include_str!("../../src/redis_store/limiter.lua"));
    let quota = script(include_str!("../../src/redis_store/quota_reserve.lua"));
    let flush = script(include_str!("../../src/redis_store/keys/flush_usage.lua"));
    // What runs beside the requests: the usage flush, the key cache's poll and subscription,
    // the monitor's own marks.
    let background = |(name, first): &(String, String)| {
        matches!(name.as_str(), "MGET" | "PING" | "SUBSCRIBE" | "ECHO")
            || (name == "EVALSHA" && *first == flush)
    };

    // Subscribed first: subscribing empties the cache (messages may have been missed).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (_, subscribers): (String, u64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("memorysync:key:changes")
            .query_async(&mut monitor.control)
            .await
            .unwrap();
        if subscribers > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the key cache never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Until the cache is trusted, a request also looks its key up.
    loop {
        let from = monitor.mark().await;
        assert_eq!(tenant.call("GET", "/v1/memories").await, 200);
        let to = monitor.mark().await;
        if !monitor
            .between(from, to)
            .iter()
            .any(|(name, _)| name == "HMGET")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the key was never served from the cache"
        );
    }

    const REQUESTS: usize = 100;
    let from = monitor.mark().await;
    for _ in 0..REQUESTS {
        assert_eq!(tenant.call("GET", "/v1/memories").await, 200);
    }
    let to = monitor.mark().await;
    let sent: Vec<_> = monitor
        .between(from, to)
        .into_iter()
        .filter(|command| !background(command))
        .collect();
    let count = |sha: &str| {
        sent.iter()
            .filter(|(name, first)| name == "EVALSHA" && first == sha)
            .count()
    };
    assert_eq!(
        (count(&limit), count(&quota)),
        (REQUESTS, REQUESTS),
        "one rate-limit and one quota call per request: {sent:?}"
    );
    assert_eq!(sent.len(), 2 * REQUESTS, "nothing else: {sent:?}");
}

/// A Redis user whose ACL may not publish (Redis 7's default for new users: no channels) still
/// creates and revokes keys whole, tombstones included; the other instance sees the changes by
/// the poll within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_that_may_not_publish_still_writes_whole_and_is_seen_by_the_poll() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let admin = redis::Client::open(redis.url()).unwrap();
    let mut admin = admin.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER",
                "writer",
                "on",
                ">writer-pw",
                "~*",
                "resetchannels",
                "+@all",
            ][..],
        )
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = redis
        .url()
        .replacen("redis://", "redis://writer:writer-pw@", 1);
    let refused: redis::RedisResult<i64> = redis::cmd("PUBLISH")
        .arg("anything")
        .arg("1")
        .query_async(
            &mut redis::Client::open(url.as_str())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap(),
        )
        .await;
    assert!(refused.is_err(), "the user may not publish: {refused:?}");

    let options = || KeyCacheOptions::new().without_pubsub();
    let a = store_on(
        RedisConnection::connect(&url, RedisOptions::default())
            .await
            .unwrap(),
        options(),
    );
    let b = store_on(
        RedisConnection::connect(&url, RedisOptions::default())
            .await
            .unwrap(),
        options(),
    );
    let now = SystemClock.now();
    a.insert(record("key_a", 1), now).await.unwrap();
    until_cached(&b, &hash(1)).await;

    a.revoke("key_a", now).await.unwrap();
    let changed = Instant::now();
    seen_within_a_second("revoked, no message", &b, &hash(1), changed, |found| {
        found.is_some_and(|entry| entry.record().is_revoked(now))
    })
    .await;
    // The revocation's tombstones were left: the id cannot come back with another hash.
    let again = a.insert(record("key_a", 2), now).await;
    assert!(
        matches!(
            again,
            Err(memorysync_pipeline::key::KeyStoreError::Tombstoned(_))
        ),
        "{again:?}"
    );
}

/// A Redis seeded without the generation counter (no key written since, or written by a version
/// without it) gets one from the poll, so that later polls can tell a change from none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_starts_a_missing_generation_counter() {
    let Some(prefix) = TestPrefix::new("key-cache-counter") else {
        return;
    };
    let connection = prefix.connect().await;
    let counter = connection.key(&["key", "generation"]);
    let store = store_on(connection, KeyCacheOptions::new().without_pubsub());
    store
        .insert(record("key_a", 1), SystemClock.now())
        .await
        .unwrap();
    let mut raw = redis::Client::open(prefix.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&counter)
        .query_async(&mut raw)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let exists: bool = redis::cmd("EXISTS")
            .arg(&counter)
            .query_async(&mut raw)
            .await
            .unwrap();
        if exists {
            break;
        }
        assert!(Instant::now() < deadline, "no poll started the counter");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until_cached(&store, &hash(1)).await;
}
