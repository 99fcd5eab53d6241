//! [`KeyStore::insert`](crate::key::KeyStore::insert) and
//! [`KeyStore::revoke`](crate::key::KeyStore::revoke) on Redis: one script each, which also
//! moves the generation counter and announces the change for every instance's key cache.

use std::sync::Arc;

use super::Inner;
use super::scripts::{INSERT, REVOKE};
use super::stored::{StoredRecord, encode};
use crate::clock::Timestamp;
use crate::key::{KeyHash, KeyRecord, KeyStoreError, KeyUsage};
use crate::redis_store::RedisTombstones;
use crate::store::StoreError;
use crate::tombstone::{TombstoneKind, TombstoneStore};

impl Inner {
    /// One `insert.lua`; a record inserted revoked is tombstoned too.
    pub(super) async fn insert(&self, record: KeyRecord) -> Result<(), KeyStoreError> {
        let hex = record.sha256.to_hex();
        let tombstones = &self.tombstones;
        let keyspace = self.connection.keyspace();
        let keys = [
            self.id_key(&record.id),
            self.hash_key(&record.sha256),
            tombstones.key(TombstoneKind::ApiKeyId, &record.id),
            tombstones.key(TombstoneKind::ApiKeyHash, &hex),
            keyspace.key_owner_index(record.owner),
            keyspace.key_generation(),
        ];
        let json = encode(&record)?;
        let revoked_at = record
            .revoked_at
            .map_or_else(String::new, |at| at.unix_millis().to_string());
        let mut manager = self.connection.manager();
        let answer: Result<Vec<String>, _> = self
            .connection
            .timed(
                INSERT
                    .key(&keys)
                    .arg(&hex)
                    .arg(&json)
                    .arg(&revoked_at)
                    .arg(&*record.id)
                    .arg(keyspace.key_changes())
                    .arg(counter_start()?)
                    .invoke_async(&mut manager),
            )
            .await;
        // Even a call that timed out may have landed.
        self.fresh.invalidate();
        let answer = answer?;
        match answer.first().map(String::as_str) {
            // Tracked from now on: requests counted before its first look-up are flushed.
            Some("ok") => {
                self.track(record.sha256, record.clone(), KeyUsage::default());
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
        self.connection
            .replicate_key_write(&keyspace.key_generation())
            .await;
        Ok(())
    }

    /// One `revoke.lua`, then the tombstones of the id and the hash.
    pub(super) async fn revoke(&self, id: Arc<str>, at: Timestamp) -> Result<(), KeyStoreError> {
        let hash = self.hash_of(&id).await?;
        let hex = hash.to_hex();
        let keyspace = self.connection.keyspace();
        let keys = [self.hash_key(&hash), keyspace.key_generation()];
        let mut manager = self.connection.manager();
        let revoked: Result<i64, _> = self
            .connection
            .timed(
                REVOKE
                    .key(&keys)
                    .arg(at.unix_millis())
                    .arg(keyspace.key_changes())
                    .arg(counter_start()?)
                    .invoke_async(&mut manager),
            )
            .await;
        // Even a call that timed out may have landed.
        self.fresh.invalidate();
        if revoked? == 0 {
            return Err(KeyStoreError::UnknownKey(id));
        }
        leave_tombstones(&self.tombstones, &id, &hex, at).await?;
        self.connection
            .replicate_key_write(&keyspace.key_generation())
            .await;
        Ok(())
    }

    /// The hash the id index gives for `id`.
    pub(super) async fn hash_of(&self, id: &Arc<str>) -> Result<KeyHash, KeyStoreError> {
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

/// Where a new generation counter starts: a random value below 2^52 (the scripts count in Lua
/// numbers, exact up to 2^53), so that a counter emptied with the rest of Redis never comes
/// back at a value a poll saw before.
pub(super) fn counter_start() -> Result<u64, StoreError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|_| StoreError::new("no randomness for the key generation counter"))?;
    Ok(u64::from_le_bytes(bytes) >> 12)
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
