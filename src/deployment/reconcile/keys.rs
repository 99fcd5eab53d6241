//! The file's keys made the key store's: added, changed, revoked, or refused one by one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::Refused;
use crate::clock::Timestamp;
use crate::key::{KeyRecord, KeyStore, KeyStoreError, RecordOwner, Upserted};

/// What reconciling the keys did.
#[derive(Debug, Default)]
pub(super) struct KeyChanges {
    pub(super) added: usize,
    pub(super) changed: usize,
    pub(super) revoked: usize,
    pub(super) refused: Vec<Refused>,
}

/// Makes the file-owned records of `keys` what `file` says, and leaves every other record alone.
///
/// Keys gone from the file are revoked first, so that a leaked key the operator deleted stops
/// working before anything else is written. A key the store holds revoked stays revoked
/// whatever the file says, and a record of the API's is never changed: each such key is
/// refused on its own, and the rest of the file still applies.
///
/// # Errors
/// The key store did not answer; what was written before stays written, and applying the same
/// file again finishes the work.
pub(super) async fn reconcile<K: KeyStore>(
    keys: &K,
    file: &[KeyRecord],
    now: Timestamp,
) -> Result<KeyChanges, KeyStoreError> {
    let stored: HashMap<Arc<str>, KeyRecord> = keys
        .owned_records(RecordOwner::Config)
        .await?
        .into_iter()
        .map(|record| (Arc::clone(&record.id), record))
        .collect();
    let named: HashSet<&str> = file.iter().map(|record| &*record.id).collect();
    let mut changes = KeyChanges::default();
    for record in stored.values() {
        if record.revoked_at.is_none() && !named.contains(&*record.id) {
            match keys.revoke(&record.id, now).await {
                Ok(()) => changes.revoked += 1,
                // Gone since the listing: nothing left to revoke.
                Err(KeyStoreError::UnknownKey(_)) => {}
                Err(error) => return Err(error),
            }
        }
    }
    for record in file {
        let stored = stored.get(&record.id);
        if stored.is_some_and(|stored| stored.revoked_at.is_some()) {
            if record.revoked_at.is_none() {
                changes.refused.push(Refused::key(
                    &record.id,
                    "revoked in the store; revocation is one-way, so the file cannot bring it back",
                ));
            }
            continue;
        }
        match keys.upsert(record.clone(), now).await {
            // A revocation the file adds (or a key it adds already revoked) counts as revoked.
            Ok(Upserted::Added | Upserted::Changed) if record.revoked_at.is_some() => {
                changes.revoked += 1;
            }
            Ok(Upserted::Added) => changes.added += 1,
            Ok(Upserted::Changed) => changes.changed += 1,
            Ok(Upserted::Unchanged) => {}
            Err(KeyStoreError::Tombstoned(_)) if record.revoked_at.is_some() => {}
            Err(KeyStoreError::Store(error)) => return Err(KeyStoreError::Store(error)),
            Err(refusal) => changes
                .refused
                .push(Refused::key(&record.id, refusal.to_string())),
        }
    }
    Ok(changes)
}
