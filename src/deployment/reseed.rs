//! [`reseed`]: after Redis lost its data, the config's keys written back and a new epoch, which
//! the running instances adopt by themselves.

use std::fmt;

use super::reconcile::detached;
use super::{ReconcileError, Refused};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, StoreBackend};
use crate::redis_store::{
    Epoch, EpochMarker, RedisConfigVersions, RedisConnection, RedisKeyStore, RedisOptions,
    RedisTombstones,
};
use crate::store::StoreError;

/// What [`reseed`] found and wrote.
#[derive(Debug)]
#[non_exhaustive]
pub struct Reseeded {
    /// The epoch marker before the reseed: after a flush, none, with the time an instance
    /// reported the loss.
    pub before: EpochMarker,
    /// The new epoch.
    pub epoch: Epoch,
    /// The file's `config_version`, recorded as the last applied.
    pub config_version: u64,
    /// Keys of the file written back.
    pub added: usize,
    /// Keys of the file that Redis still held with other contents, replaced.
    pub changed: usize,
    /// Keys revoked and tombstoned: revoked in the file, or file-owned keys Redis held that
    /// the file no longer names.
    pub revoked: usize,
    /// Keys of the file not written, each with the reason (a tombstone Redis still holds, a
    /// record the admin API owns).
    pub refused: Vec<Refused>,
}

/// Why [`reseed`] wrote no new epoch.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReseedError {
    /// The config's store is not Redis, or names no Redis.
    NotRedis(&'static str),
    /// Redis did not answer.
    Store(StoreError),
    /// The file's keys were refused (an older or conflicting `config_version` than the one
    /// Redis holds) or not all written.
    Reconcile(ReconcileError),
}

impl fmt::Display for ReseedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReseedError::NotRedis(why) => f.write_str(why),
            ReseedError::Store(error) => write!(f, "{error}"),
            ReseedError::Reconcile(error) => write!(f, "{error}; no new epoch was written"),
        }
    }
}

impl std::error::Error for ReseedError {}

/// Writes back what the config file owns into the Redis of `store.redis_url`, by the rules of a
/// reconciliation ([`Deployment::reconcile`](super::Deployment::reconcile)): every `[[keys]]`
/// record (revoked and tombstoned when the file says `revoked_at`), the file's
/// `config_version`; then a new epoch marker. Running instances that found the data lost adopt
/// the new epoch within a second and serve from Redis again; an instance starting afterwards
/// joins it.
///
/// It cannot bring back what only Redis held: keys created through the admin API (and
/// revocations of file keys made there, unless the file says them too), this month's quota
/// counters and alert marks, key usage, the webhook queue and its dead letters, rate-limit
/// windows and the audit stream. Run Redis with `appendonly yes` and
/// `maxmemory-policy noeviction` so that this is needed only when Redis was replaced.
///
/// # Errors
/// [`ReseedError`]: the config is not on Redis, Redis did not answer, or the file was refused;
/// no new epoch is written then, so the instances keep reporting the loss.
pub async fn reseed(config: &Config) -> Result<Reseeded, ReseedError> {
    if config.store.backend != StoreBackend::Redis {
        return Err(ReseedError::NotRedis(
            "reseed writes a Redis back: the config's store.backend is not \"redis\"",
        ));
    }
    let url = config
        .store
        .redis_url
        .as_ref()
        .ok_or(ReseedError::NotRedis(
            "store.backend = \"redis\" needs store.redis_url",
        ))?;
    let connection = RedisConnection::connect_to(url, RedisOptions::default())
        .await
        .map_err(ReseedError::Store)?;
    let before = connection
        .epoch_marker()
        .await
        .map_err(ReseedError::Store)?;
    let tombstones = RedisTombstones::new(connection.clone(), config.audit.tombstone_period);
    let keys = RedisKeyStore::with_tombstones(connection.clone(), tombstones);
    let versions = RedisConfigVersions::new(connection.clone());
    let summary = detached::reconcile_keys(&keys, &versions, config, "reseed", SystemClock.now())
        .await
        .map_err(ReseedError::Reconcile)?;
    // Last: the epoch says the data is back, so it must be there when instances adopt it.
    let epoch = connection
        .reseed_epoch()
        .await
        .map_err(ReseedError::Store)?;
    Ok(Reseeded {
        before,
        epoch,
        config_version: summary.config_version,
        added: summary.added,
        changed: summary.changed,
        revoked: summary.revoked,
        refused: summary.refused,
    })
}
