//! [`reseed`]: after Redis lost its data, the config's keys written back and a new epoch, which
//! the running instances adopt by themselves.

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, StoreBackend};
use crate::key::{KeyStore, KeyStoreError};
use crate::redis_store::{
    Epoch, EpochMarker, RedisConnection, RedisKeyStore, RedisOptions, RedisTombstones,
};

use super::StartError;

/// What [`reseed`] found and wrote.
#[derive(Debug)]
#[non_exhaustive]
pub struct Reseeded {
    /// The epoch marker before the reseed: missing after a flush, with the time an instance
    /// reported the loss.
    pub before: EpochMarker,
    /// The new epoch.
    pub epoch: Epoch,
    /// Keys of the file written back.
    pub written: usize,
    /// Keys of the file Redis still held, left as they are (a revocation the file adds applies).
    pub present: usize,
    /// Keys of the file that are revoked in Redis now, with their tombstones.
    pub revoked: usize,
    /// Keys of the file kept out by a tombstone Redis still holds.
    pub tombstoned: usize,
}

/// Writes back what the config file owns into the Redis of `store.redis_url`: every
/// `[[keys]]` record (revoked and tombstoned when the file says `revoked_at`), then a new epoch
/// marker. Running instances that found the data lost adopt the new epoch within a second and
/// serve from Redis again; an instance starting afterwards joins it.
///
/// It cannot bring back what only Redis held: keys created through the admin API (and
/// revocations of file keys made there, unless the file says them too), this month's quota
/// counters and alert marks, key usage, the webhook queue and its dead letters, rate-limit
/// windows and the audit stream. Run Redis with `appendonly yes` and
/// `maxmemory-policy noeviction` so that this is needed only when Redis was replaced.
///
/// # Errors
/// [`StartError::Unsupported`] for a backend other than Redis; [`StartError::Store`] when Redis
/// does not answer; [`StartError::Keys`] when a key of the file cannot be written (its hash
/// held by another id).
pub async fn reseed(config: &Config) -> Result<Reseeded, StartError> {
    if config.store.backend != StoreBackend::Redis {
        return Err(StartError::Unsupported(
            "reseed writes a Redis back: the config's store.backend is not \"redis\"".into(),
        ));
    }
    let url = config.store.redis_url.as_deref().ok_or_else(|| {
        StartError::Unsupported("store.backend = \"redis\" needs store.redis_url".into())
    })?;
    let connection = RedisConnection::connect(url, RedisOptions::default())
        .await
        .map_err(StartError::Store)?;
    let before = connection.epoch_marker().await.map_err(StartError::Store)?;
    let tombstones = RedisTombstones::new(connection.clone(), config.audit.tombstone_period);
    let keys = RedisKeyStore::with_tombstones(connection.clone(), tombstones);
    let mut counts = KeyCounts::default();
    let now = SystemClock.now();
    for record in &config.keys {
        let revoked_at = record.revoked_at;
        match keys.insert(record.clone(), now).await {
            Ok(()) => {
                counts.written += 1;
                counts.revoked += usize::from(revoked_at.is_some());
            }
            Err(KeyStoreError::DuplicateId(id)) => {
                counts.present += 1;
                if let Some(at) = revoked_at {
                    keys.revoke(&id, at).await.map_err(StartError::Keys)?;
                    counts.revoked += 1;
                }
            }
            Err(KeyStoreError::Tombstoned(_)) => counts.tombstoned += 1,
            Err(error) => return Err(StartError::Keys(error)),
        }
    }
    // Last: the epoch says the data is back, so it must be there when instances adopt it.
    let epoch = connection.reseed_epoch().await.map_err(StartError::Store)?;
    Ok(Reseeded {
        before,
        epoch,
        written: counts.written,
        present: counts.present,
        revoked: counts.revoked,
        tombstoned: counts.tombstoned,
    })
}

#[derive(Default)]
struct KeyCounts {
    written: usize,
    present: usize,
    revoked: usize,
    tombstoned: usize,
}
