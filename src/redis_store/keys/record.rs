//! [`KeyStore::record`](crate::key::KeyStore::record) on Redis: the id index, then the record
//! it names.
//!
//! Two round trips, not one script: the record's name depends on what the index holds, and a
//! script may only touch the keys it declares (every script of this store keeps to that, as a
//! cluster requires). The index is read again beside the record, so that a rehash between the
//! two reads is noticed and both are read again, as [`upsert`](super::upsert) does.

use std::sync::Arc;

use super::stored::{StoredFields, decode};
use super::upsert::ATTEMPTS;
use super::{Inner, RECORD_FIELDS};
use crate::key::{KeyHash, KeyRecord};
use crate::store::StoreError;

impl Inner {
    /// The record with this id, revoked or not; `None` when the index names none.
    pub(super) async fn record(&self, id: &Arc<str>) -> Result<Option<KeyRecord>, StoreError> {
        for _ in 0..ATTEMPTS {
            // With the epoch check: an emptied Redis must not answer "no such key".
            let mut index = redis::cmd("GET");
            index.arg(self.id_key(id));
            let hex: Option<String> = self.connection.timed_on_epoch(index).await?;
            let Some(hex) = hex else {
                return Ok(None);
            };
            let hash = KeyHash::from_hex(&hex)
                .map_err(|_| StoreError::new("redis: unreadable key index"))?;
            let mut both = redis::pipe();
            both.cmd("HMGET")
                .arg(self.hash_key(&hash))
                .arg(&RECORD_FIELDS)
                .cmd("GET")
                .arg(self.id_key(id));
            let mut manager = self.connection.manager();
            let (fields, again): (StoredFields, Option<String>) = self
                .connection
                .timed(both.query_async(&mut manager))
                .await?;
            if again.as_deref() != Some(hex.as_str()) {
                // Rehashed (or removed) between the two reads.
                continue;
            }
            return match decode(hash, fields)? {
                Some((record, _)) if record.id == *id => Ok(Some(record)),
                // Every write changes the index and the record in one script: this is damage.
                _ => Err(StoreError::new("redis: the key index names another record")),
            };
        }
        Err(StoreError::new(
            "redis: the key's id kept moving during a read",
        ))
    }
}
