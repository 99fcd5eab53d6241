//! [`KeyStore::upsert`](crate::key::KeyStore::upsert) and
//! [`KeyStore::owned_records`](crate::key::KeyStore::owned_records) on Redis.

use std::sync::Arc;

use super::scripts::UPSERT;
use super::stored::{StoredFields, StoredRecord, decode, encode};
use super::writes::counter_start;
use super::{Inner, RECORD_FIELDS};
use crate::clock::Timestamp;
use crate::key::{KeyHash, KeyRecord, KeyStoreError, KeyUsage, Upserted};
use crate::store::{RecordOwner, StoreError};
use crate::tombstone::TombstoneKind;

/// How often an upsert reads the id index again when another write moved it in between.
pub(super) const ATTEMPTS: usize = 4;

impl Inner {
    /// One `upsert.lua`, read again while another writer moves the id between the read of the
    /// id index and the script.
    pub(super) async fn upsert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> Result<Upserted, KeyStoreError> {
        for _ in 0..ATTEMPTS {
            let before = self
                .hash_of(&record.id)
                .await
                .map(Some)
                .or_else(|e| match e {
                    KeyStoreError::UnknownKey(_) => Ok(None),
                    other => Err(other),
                })?;
            if before.is_some_and(|old| old != record.sha256) {
                // A new hash takes the usage along: what this process counted goes to Redis
                // first. An upsert that keeps the hash leaves the usage where it is.
                self.flush().await?;
            }
            match self.upsert_once(&record, before, now).await? {
                Some(upserted) => {
                    self.forget_replaced(&record, before);
                    if upserted != Upserted::Unchanged {
                        let generation = self.connection.keyspace().key_generation();
                        self.connection.replicate_key_write(&generation).await;
                    }
                    return Ok(upserted);
                }
                None => continue,
            }
        }
        Err(StoreError::new("redis: the key's id kept moving during an upsert").into())
    }

    /// `None` when the id index no longer held `before`.
    async fn upsert_once(
        &self,
        record: &KeyRecord,
        before: Option<KeyHash>,
        now: Timestamp,
    ) -> Result<Option<Upserted>, KeyStoreError> {
        let tombstones = &self.tombstones;
        let (hex, old) = (record.sha256.to_hex(), before.unwrap_or(record.sha256));
        let keys = [
            self.id_key(&record.id),
            self.hash_key(&record.sha256),
            tombstones.key(TombstoneKind::ApiKeyId, &record.id),
            tombstones.key(TombstoneKind::ApiKeyHash, &hex),
            self.hash_key(&old),
            tombstones.key(TombstoneKind::ApiKeyHash, &old.to_hex()),
            self.connection.keyspace().key_owner_index(record.owner),
            self.connection.keyspace().key_generation(),
        ];
        let keep_for = tombstones.keep_for();
        let millis =
            |at: Option<Timestamp>| at.map_or_else(String::new, |at| at.unix_millis().to_string());
        let mut manager = self.connection.manager();
        let answer: Result<Vec<String>, _> = self
            .connection
            .timed(
                UPSERT
                    .key(&keys)
                    .arg(&hex)
                    .arg(encode(record)?)
                    .arg(millis(record.revoked_at))
                    .arg(before.map_or_else(String::new, |hash| hash.to_hex()))
                    .arg(record.owner.as_str())
                    .arg(&*record.id)
                    .arg(now.saturating_add(keep_for).unix_millis())
                    .arg(millis(
                        record.revoked_at.map(|at| at.saturating_add(keep_for)),
                    ))
                    .arg(self.connection.keyspace().key_changes())
                    .arg(counter_start()?)
                    .invoke_async(&mut manager),
            )
            .await;
        // Even a call that timed out may have landed.
        self.fresh.invalidate();
        let answer = answer?;
        let id = || Arc::clone(&record.id);
        match answer.first().map(String::as_str) {
            Some("added") => Ok(Some(Upserted::Added)),
            Some("changed") => Ok(Some(Upserted::Changed)),
            Some("unchanged") => Ok(Some(Upserted::Unchanged)),
            Some("moved") => Ok(None),
            Some("tombstoned") => Err(KeyStoreError::Tombstoned(id())),
            Some("owned_by") => {
                let owner = match answer.get(1).map(String::as_str) {
                    Some("api") => RecordOwner::Api,
                    _ => RecordOwner::Config,
                };
                Err(KeyStoreError::OwnedBy { id: id(), owner })
            }
            Some("duplicate_hash") => {
                let existing = answer
                    .get(1)
                    .and_then(|json| serde_json::from_str::<StoredRecord>(json).ok())
                    .map(|stored| stored.id)
                    .ok_or_else(|| StoreError::new("redis: unreadable key record"))?;
                Err(KeyStoreError::DuplicateHash { id: id(), existing })
            }
            _ => Err(StoreError::new("redis: unexpected answer to a key upsert").into()),
        }
    }

    /// Puts every record read as the file's into the file's owner index. Records stored before
    /// records had owners are read as the file's but are in no index: without this, no
    /// reconciliation would list them, and a key removed from the file would stay valid. One
    /// `SCAN` over the key records, in pages of 1,000; `SADD` makes a second run harmless.
    ///
    /// A cluster holds no such records (its names are newer than owners), and a `SCAN` there
    /// would see one node only: nothing to do.
    async fn index_legacy_records(&self) -> Result<(), StoreError> {
        if self.connection.is_cluster() {
            return Ok(());
        }
        let keyspace = self.connection.keyspace();
        let records = keyspace.join(&["key", "hash", ""]);
        let pattern = format!("{}*", glob_escaped(&records));
        let index = keyspace.key_owner_index(RecordOwner::Config);
        let mut manager = self.connection.manager();
        let mut cursor = 0_u64;
        loop {
            let (next, names): (u64, Vec<String>) = self
                .connection
                .timed(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut manager),
                )
                .await?;
            let hashes: Vec<KeyHash> = names
                .iter()
                .filter_map(|name| KeyHash::from_hex(name.strip_prefix(&records)?).ok())
                .collect();
            if !hashes.is_empty() {
                let mut fields = redis::pipe();
                for hash in &hashes {
                    fields
                        .cmd("HMGET")
                        .arg(self.hash_key(hash))
                        .arg(&RECORD_FIELDS);
                }
                let answers: Vec<StoredFields> = self
                    .connection
                    .timed(fields.query_async(&mut manager))
                    .await?;
                let mut ids = Vec::new();
                for (hash, fields) in hashes.into_iter().zip(answers) {
                    if let Some((record, _)) = decode(hash, fields)?
                        && record.owner == RecordOwner::Config
                    {
                        ids.push(record.id.to_string());
                    }
                }
                if !ids.is_empty() {
                    let _: () = self
                        .connection
                        .timed(
                            redis::cmd("SADD")
                                .arg(&index)
                                .arg(&ids)
                                .query_async(&mut manager),
                        )
                        .await?;
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// This process stops counting on the entry of a hash the record left; a changed record
    /// under the same hash is refreshed by its next look-up.
    fn forget_replaced(&self, record: &KeyRecord, before: Option<KeyHash>) {
        match before {
            Some(old) if old != record.sha256 => {
                if let Some((_, gone)) = self.cache.remove(&old) {
                    self.retire(gone);
                }
            }
            Some(_) => {}
            None => {
                self.track(record.sha256, record.clone(), KeyUsage::default());
            }
        }
    }

    /// Every record in `owner`'s index: three round trips (the index, the ids' hashes, the
    /// records), however many records. The file's index is first completed, once per process,
    /// with the records stored before records had owners.
    pub(super) async fn owned_records(
        &self,
        owner: RecordOwner,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        if owner == RecordOwner::Config {
            self.legacy_indexed
                .get_or_try_init(|| self.index_legacy_records())
                .await?;
        }
        let mut manager = self.connection.manager();
        let index = self.connection.keyspace().key_owner_index(owner);
        let ids: Vec<String> = self
            .connection
            .timed(redis::cmd("SMEMBERS").arg(&index).query_async(&mut manager))
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_id = redis::pipe();
        for id in &ids {
            by_id.cmd("GET").arg(self.id_key(id));
        }
        let hexes: Vec<Option<String>> = self
            .connection
            .timed(by_id.query_async(&mut manager))
            .await?;
        let hashes: Vec<KeyHash> = hexes
            .iter()
            .flatten()
            .map(|hex| KeyHash::from_hex(hex))
            .collect::<Result<_, _>>()
            .map_err(|_| StoreError::new("redis: unreadable key index"))?;
        let mut fields = redis::pipe();
        for hash in &hashes {
            fields
                .cmd("HMGET")
                .arg(self.hash_key(hash))
                .arg(&RECORD_FIELDS);
        }
        let answers: Vec<StoredFields> = self
            .connection
            .timed(fields.query_async(&mut manager))
            .await?;
        let mut records = Vec::with_capacity(answers.len());
        for (hash, fields) in hashes.into_iter().zip(answers) {
            if let Some((record, _)) = decode(hash, fields)? {
                records.push(record);
            }
        }
        Ok(records)
    }
}

/// `text` as a `SCAN MATCH` pattern that matches it literally: the glob's special characters
/// escaped (a store prefix may hold any of them).
fn glob_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::glob_escaped;

    #[test]
    fn a_prefix_with_glob_characters_matches_only_itself() {
        assert_eq!(glob_escaped("memorysync:key:hash:"), "memorysync:key:hash:");
        assert_eq!(glob_escaped(r"a*b?c[d]e\f"), r"a\*b\?c\[d\]e\\f");
    }
}
