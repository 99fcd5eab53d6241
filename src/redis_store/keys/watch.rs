//! How the key cache learns of changes made anywhere: a poll of the generation counter every
//! [`KeyCacheOptions::POLL_EVERY`], which alone bounds how stale an answer can be, and a pub/sub
//! subscription to the channel where each change is announced, which makes most changes show
//! at once. Pub/sub drops messages while a subscriber reconnects: the poll is what the rule
//! rests on.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::cache::{Freshness, KeyCacheOptions};
use super::writes::counter_start;
use crate::redis_store::RedisConnection;
use crate::redis_store::connection::redis_error;
use crate::store::StoreError;

/// How long the subscription waits before subscribing again after it was lost.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// How often the subscription's connection is pinged: a connection that died without a word
/// would otherwise wait for messages forever.
const PING_EVERY: Duration = Duration::from_secs(5);

/// What a poll read: the epoch it was checked against and the generation counter.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    epoch: Option<Arc<str>>,
    generation: Option<String>,
}

/// Starts the poll and, unless `options` say not to, the subscription; their handles, to end
/// them with the store. Without a tokio runtime nothing starts, so the cache never answers and
/// every look-up reads Redis.
pub(super) fn start(
    fresh: &Arc<Freshness>,
    connection: &RedisConnection,
    options: &KeyCacheOptions,
) -> Vec<AbortHandle> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            "RedisKeyStore built outside a tokio runtime: every key look-up reads redis"
        );
        return Vec::new();
    };
    let mut tasks = vec![
        runtime
            .spawn(poll(Arc::clone(fresh), connection.clone()))
            .abort_handle(),
    ];
    if options.subscribe {
        let task = subscribe(Arc::clone(fresh), connection.clone());
        tasks.push(runtime.spawn(task).abort_handle());
    }
    tasks
}

async fn poll(fresh: Arc<Freshness>, connection: RedisConnection) {
    let mut ticks = tokio::time::interval(KeyCacheOptions::POLL_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last: Option<Seen> = None;
    loop {
        ticks.tick().await;
        let sent = Instant::now();
        match read(&connection).await {
            Ok(seen) => {
                // A first read has nothing to compare with: what was read before it may be
                // older than the counter it found. Without a counter (no change since Redis
                // was seeded, or it lost its data) two reads cannot tell a change either.
                if seen.generation.is_none() || last.as_ref() != Some(&seen) {
                    fresh.invalidate();
                }
                if seen.generation.is_none() {
                    // No key changed since Redis was seeded (or by a version without the
                    // counter): one is started, so that the next reads can compare.
                    start_counter(&connection).await;
                }
                last = Some(seen);
                fresh.trust_from(sent);
            }
            Err(error) => {
                // Redis may come back as another copy (a restart, a failover) holding the same
                // counter: nothing read before the failure is trusted again.
                if last.take().is_some() {
                    fresh.invalidate();
                    tracing::warn!(%error, "key cache poll failed; reading keys through Redis until it answers");
                }
            }
        }
    }
}

/// The generation counter (`None` while there is none), checked against the epoch in the same
/// round trip. `MGET`, not `GET`: no other call of the stores sends it, so that counting
/// commands (the round-trip bench) tells the polls apart.
async fn read(connection: &RedisConnection) -> Result<Seen, StoreError> {
    let epoch = connection.epoch_watch().expected()?;
    let mut mget = redis::cmd("MGET");
    mget.arg(connection.keyspace().key_generation());
    let [generation]: [Option<String>; 1] = connection.timed_on_epoch(mget).await?;
    Ok(Seen { epoch, generation })
}

/// Creates the generation counter where there is none, at a random start as the writes do.
async fn start_counter(connection: &RedisConnection) {
    let Ok(start) = counter_start() else {
        return;
    };
    let mut set = redis::cmd("SET");
    set.arg(connection.keyspace().key_generation())
        .arg(start)
        .arg("NX");
    let mut manager = connection.manager();
    let result: Result<Option<String>, StoreError> =
        connection.timed(set.query_async(&mut manager)).await;
    if let Err(error) = result {
        tracing::debug!(%error, "the key generation counter could not be started");
    }
}

/// Subscribes to the channel of changes and bumps the view on every message, for as long as
/// the store lives; subscribes again (and bumps, for what it missed) after losing it.
async fn subscribe(fresh: Arc<Freshness>, connection: RedisConnection) {
    let channel = connection.keyspace().key_changes();
    let timeout = connection.options().timeout;
    // On a cluster, each attempt takes the next seed node: the one it had may be down.
    for attempt in 0_usize.. {
        match listen(&fresh, connection.client(attempt), &channel, timeout).await {
            Ok(()) => tracing::debug!("key change subscription lost; subscribing again"),
            Err(error) => tracing::debug!(%error, "key change subscription failed"),
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// One subscription, until its connection is lost.
async fn listen(
    fresh: &Freshness,
    client: &redis::Client,
    channel: &str,
    timeout: Duration,
) -> Result<(), StoreError> {
    let mut pubsub = tokio::time::timeout(timeout, client.get_async_pubsub())
        .await
        .map_err(|_| StoreError::new("redis pub/sub did not connect in time"))?
        .map_err(|e| redis_error(&e))?;
    tokio::time::timeout(timeout, pubsub.subscribe(channel))
        .await
        .map_err(|_| StoreError::new("redis pub/sub did not subscribe in time"))?
        .map_err(|e| redis_error(&e))?;
    // Changes announced while nobody listened are lost: what was read before is stale.
    fresh.invalidate();
    let (mut sink, messages) = pubsub.split();
    let mut messages = pin!(messages);
    let mut pings = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        tokio::select! {
            message = std::future::poll_fn(|cx| messages.as_mut().poll_next(cx)) => {
                fresh.invalidate();
                if message.is_none() {
                    return Ok(());
                }
            }
            _ = pings.tick() => {
                let pong = tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    fresh.invalidate();
                    return Ok(());
                }
            }
        }
    }
}
