//! The epoch marker: which seeding of Redis the shared stores trust, so that a Redis that lost
//! its data (`FLUSHALL`, a restart without persistence, a failover to an empty replica,
//! eviction of the marker) is noticed instead of answering "unknown key" for every key.
//!
//! The marker is one hash, `epoch` under the store's prefix: `id` (128 random bits in hex),
//! `seeded_at` (the server's time, unix milliseconds), `origin` (`start`: the first start on an
//! empty Redis; `reseed`: `memorysync store reseed`), and, once an instance found the data
//! lost, a loss note: `lost` (the epoch it lost) and `lost_at`.
//!
//! - **At start** ([`RedisConnection::watch_epoch`]) a process joins the epoch Redis holds. On a
//!   Redis with no marker and no loss note it seeds one: a first start. On a Redis with a loss
//!   note it seeds nothing and starts with its data lost: a loss some instance reported is
//!   never papered over by an instance that starts after it.
//! - **Every key look-up** sends `HGET epoch id` in the same pipeline as its `HMGET` (one round
//!   trip, as before). A missing or other id makes every call on the connection fail at once, as
//!   a hung Redis does, and wakes the watcher. So the stages apply `store.on_store_error` as
//!   in an outage, from the first request that meets the flush, and a key this process has seen
//!   is never forgotten because an emptied Redis said it does not exist.
//! - **Once a second**, and at once when woken, a task looks at the whole marker
//!   (`observe.lua`, one key, atomic): the same epoch; a newer one a reseed wrote (adopted:
//!   the operator restored the data); or a loss, noted in the hash if no note is there. `/health`
//!   makes the same look on every probe and answers `data_lost` under the `redis` check.
//! - **While lost**, the watcher keeps looking; the outage ends when a reseed's epoch is adopted,
//!   and the stages' breakers close at their next probe.
//!
//! What the marker cannot see: a Redis that came back from an old snapshot holding the same
//! epoch (its counters rolled back), and single keys evicted while the marker was kept. That is
//! why Redis must run with `appendonly yes` and `maxmemory-policy noeviction`, which
//! `memorysync preflight` checks. And when every instance was stopped while Redis lost its data,
//! no instance was there to leave a loss note: the next start finds an empty Redis and seeds it
//! as a first start.

mod watch;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;

pub(crate) use watch::EpochWatch;
use watch::{Verdict, observe, spawn_watcher};

use super::RedisConnection;
use crate::clock::Timestamp;
use crate::store::StoreError;

/// Joins the epoch Redis holds, or seeds one (`seed.lua`).
static SEED: LazyLock<Script> = lua_script!("seed.lua");

/// One look at the marker, leaving a loss note when it is lost (`observe.lua`).
static OBSERVE: LazyLock<Script> = lua_script!("observe.lua");

/// Writes the epoch of a reseed (`reseed.lua`).
static RESEED: LazyLock<Script> = lua_script!("reseed.lua");

/// One seeding of Redis: the data the shared stores trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epoch {
    id: Arc<str>,
    seeded_at: Timestamp,
    origin: EpochOrigin,
}

impl Epoch {
    /// The random id, 32 hex digits.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When it was seeded, by the Redis server's clock.
    pub fn seeded_at(&self) -> Timestamp {
        self.seeded_at
    }

    /// What seeded it.
    pub fn origin(&self) -> EpochOrigin {
        self.origin
    }
}

/// What wrote an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochOrigin {
    /// The first start of an instance on a Redis that held no marker and no loss note.
    FirstStart,
    /// `memorysync store reseed` (or [`RedisConnection::reseed_epoch`]).
    Reseed,
}

impl EpochOrigin {
    fn parse(word: &str) -> Result<Self, StoreError> {
        match word {
            "start" => Ok(EpochOrigin::FirstStart),
            "reseed" => Ok(EpochOrigin::Reseed),
            _ => Err(StoreError::new("redis: unreadable epoch marker")),
        }
    }
}

/// What a process found when it started watching the epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EpochStart {
    /// Redis held no marker and no loss note: this process seeded it (a first start).
    Seeded(Epoch),
    /// Redis held this epoch.
    Joined(Epoch),
    /// An instance reported Redis's data lost: nothing was seeded, and until a reseed every
    /// call fails at once as in an outage.
    Lost,
}

/// The marker as Redis holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EpochMarker {
    /// The epoch, when the marker is there.
    pub epoch: Option<Epoch>,
    /// When an instance reported the data lost, if one did since the last reseed.
    pub loss_reported_at: Option<Timestamp>,
}

impl RedisConnection {
    /// How often a watched connection looks at the epoch marker when no request has found it
    /// changed.
    pub const EPOCH_CHECK_EVERY: Duration = Duration::from_secs(1);

    /// Joins the epoch Redis holds (seeding one on a Redis that never held one, refusing to
    /// over a reported loss) and checks it from now on: every key look-up compares it, a
    /// background task looks at the marker every [`Self::EPOCH_CHECK_EVERY`], and the `redis`
    /// health check answers `data_lost` while it is lost. Call it once per connection, inside a
    /// tokio runtime; [`Deployment::start`](crate::deployment::Deployment::start) does.
    ///
    /// # Errors
    /// Redis did not answer.
    pub async fn watch_epoch(&self) -> Result<EpochStart, StoreError> {
        let id = new_epoch_id()?;
        let mut manager = self.manager();
        let watch = self.epoch_watch();
        let answer: Vec<String> = self
            .timed_and_noted(SEED.key(&watch.key).arg(&id).invoke_async(&mut manager))
            .await?;
        let start = match answer.as_slice() {
            [word] if word == "lost" => EpochStart::Lost,
            [word, id, at, origin] if word == "joined" => {
                EpochStart::Joined(Epoch::read(id, at, EpochOrigin::parse(origin)?)?)
            }
            [word, id, at, _] if word == "seeded" => {
                EpochStart::Seeded(Epoch::read(id, at, EpochOrigin::FirstStart)?)
            }
            _ => return Err(StoreError::new("redis: unexpected answer about the epoch")),
        };
        watch.start(&start);
        spawn_watcher(
            watch,
            self.manager(),
            self.options().timeout,
            Self::EPOCH_CHECK_EVERY,
        );
        Ok(start)
    }

    /// Writes a new epoch (origin [`EpochOrigin::Reseed`]), replacing the marker and any loss
    /// note: instances that found the data lost, and those on an older epoch, adopt it within
    /// a second. Write the restored data first; this says it is there.
    ///
    /// # Errors
    /// Redis did not answer.
    pub async fn reseed_epoch(&self) -> Result<Epoch, StoreError> {
        let id = new_epoch_id()?;
        let mut manager = self.manager();
        let watch = self.epoch_watch();
        let answer: Vec<String> = self
            .timed_and_noted(RESEED.key(&watch.key).arg(&id).invoke_async(&mut manager))
            .await?;
        let [id, at] = answer.as_slice() else {
            return Err(StoreError::new("redis: unexpected answer about the epoch"));
        };
        let epoch = Epoch::read(id, at, EpochOrigin::Reseed)?;
        watch.apply(Verdict::Adopt(epoch.clone()));
        Ok(epoch)
    }

    /// The marker as Redis holds it now.
    ///
    /// # Errors
    /// Redis did not answer, or the marker is not one this crate wrote.
    pub async fn epoch_marker(&self) -> Result<EpochMarker, StoreError> {
        let mut manager = self.manager();
        let fields: [Option<String>; 4] = self
            .timed_and_noted(
                redis::cmd("HMGET")
                    .arg(&self.epoch_watch().key)
                    .arg(&["id", "seeded_at", "origin", "lost_at"])
                    .query_async(&mut manager),
            )
            .await?;
        let [id, seeded_at, origin, lost_at] = fields;
        let epoch = match (id, seeded_at, origin) {
            (Some(id), Some(at), Some(origin)) => {
                Some(Epoch::read(&id, &at, EpochOrigin::parse(&origin)?)?)
            }
            _ => None,
        };
        let loss_reported_at = lost_at
            .map(|at| at.parse().map(Timestamp::from_unix_millis))
            .transpose()
            .map_err(|_| StoreError::new("redis: unreadable epoch marker"))?;
        Ok(EpochMarker {
            epoch,
            loss_reported_at,
        })
    }

    /// Whether Redis is known to have lost the data of the epoch this connection watches.
    pub fn data_lost(&self) -> bool {
        self.epoch_watch().is_lost()
    }

    /// One look at the marker, now, noted like any call (it doubles as a `PING`): whether the
    /// data is lost. A connection that watches no epoch only pings.
    pub(crate) async fn observe_epoch(&self) -> Result<bool, StoreError> {
        let watch = self.epoch_watch();
        if !watch.is_watched() {
            return self.ping().await.map(|()| false);
        }
        let mut manager = self.manager();
        let answer = self.timed_and_noted(observe(&mut manager, watch)).await?;
        Ok(watch.apply(Verdict::parse(&answer)?))
    }

    /// `command`, and in the same pipeline (one round trip) the marker's id when an epoch is
    /// watched: an id other than the expected one fails the call, as an outage.
    pub(crate) async fn timed_on_epoch<T>(&self, command: redis::Cmd) -> Result<T, StoreError>
    where
        T: redis::FromRedisValue,
    {
        let watch = self.epoch_watch();
        let mut manager = self.manager();
        // On a cluster the marker is in another slot: the watcher's look is the check there.
        let Some(expected) = watch.expected()?.filter(|_| !self.is_cluster()) else {
            return self.timed(command.query_async(&mut manager)).await;
        };
        let mut pipeline = redis::pipe();
        pipeline
            .add_command(command)
            .cmd("HGET")
            .arg(&watch.key)
            .arg("id");
        let (value, found): (T, Option<String>) =
            self.timed(pipeline.query_async(&mut manager)).await?;
        watch.seen(&expected, found.as_deref())?;
        Ok(value)
    }
}

/// The epoch check a request-path script makes itself (`limiter.lua`, `quota_reserve.lua`):
/// inside the script, so that a Redis that lost its data is refused by a request's first call
/// (a request whose key came from the key cache sends no other) and is never written to, at
/// no extra round trip. Each script takes the marker and the expected id where its header
/// says (`limiter.lua`: its last key and last argument; `quota_reserve.lua`: `KEYS[2]` and
/// `ARGV[3]`, before its variable-length tail), and answers `{-1}` when the marker holds
/// another id or none.
///
/// On a cluster the marker lives in a slot of its own, which a script of another slot may not
/// read: the scripts check nothing there, and the loss is found by the watcher's look once a
/// second (and by `/health`), the bound the README states.
pub(crate) struct ScriptEpoch<'a> {
    watch: &'a EpochWatch,
    /// `None`: no check in the script (no epoch watched, or a cluster).
    expected: Option<Arc<str>>,
}

impl RedisConnection {
    /// The epoch check to hand a request-path script; the refusal while the data is lost.
    pub(crate) fn script_epoch(&self) -> Result<ScriptEpoch<'_>, StoreError> {
        let watch = self.epoch_watch();
        let expected = watch.expected()?;
        Ok(ScriptEpoch {
            expected: expected.filter(|_| !self.is_cluster()),
            watch,
        })
    }
}

impl ScriptEpoch<'_> {
    /// What a script answers when the marker holds another id or none.
    pub(crate) const MISMATCH: i64 = -1;

    /// The key to declare where the script takes the marker: the marker, or when the script
    /// checks none, `beside` (one of the script's own keys, so that all its keys share a
    /// cluster slot; the script does not read it there).
    pub(crate) fn key<'k>(&'k self, beside: &'k str) -> &'k str {
        if self.expected.is_some() {
            &self.watch.key
        } else {
            beside
        }
    }

    /// The id the marker must hold; empty when no epoch is watched (the script checks nothing).
    pub(crate) fn expected(&self) -> &str {
        self.expected.as_deref().unwrap_or_default()
    }

    /// The script found the marker changed: every call of the connection fails at once until
    /// the watcher has looked, as when a key look-up finds it.
    pub(crate) fn mismatch(&self) -> StoreError {
        self.watch.mismatched(self.expected())
    }
}

/// 128 random bits in hex.
fn new_epoch_id() -> Result<String, StoreError> {
    crate::redis_store::random_hex128()
        .map_err(|_| StoreError::new("no randomness for an epoch id"))
}
