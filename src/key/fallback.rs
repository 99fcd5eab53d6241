//! What the auth stage does while its shared key store does not answer: the configured
//! [`StoreErrorPolicy`], through [`WithFallback`].
//!
//! - `local` (the default) and `allow`: a key this process has seen (looked up or inserted) is
//!   checked against its last known record, the very entry the shared store handed out, so its
//!   usage still reaches the shared store once it is back. A key this process has never seen
//!   gets 503: no policy admits a key that cannot be checked.
//! - `deny`: every look-up is 503 `store_unavailable`.
//!
//! Inserts, upserts, revocations, usage and record reads go to the shared store as they are and
//! report its errors: an administrator learns that a change did not land, rather than a stale answer.
//! A change that lands also replaces what this process remembers of the key, so that an old
//! hash or an unrevoked record never answers for it during a later outage.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use dashmap::DashMap;

use super::{
    KeyEntry, KeyHash, KeyHashState, KeyRecord, KeyStore, KeyStoreError, KeyUsage, Upserted,
};
use crate::clock::Timestamp;
use crate::store::{RecordOwner, StoreError, StoreErrorPolicy, WithFallback};

/// The entry the shared key store last gave for each hash this process has seen: what
/// [`WithFallback`] answers from during an outage.
#[derive(Debug, Default)]
pub struct LastKnownKeys {
    entries: DashMap<KeyHash, Arc<KeyEntry>, KeyHashState>,
}

impl LastKnownKeys {
    fn remember(&self, hash: KeyHash, entry: &Arc<KeyEntry>) {
        // Most look-ups find the entry already here: a read lock instead of a write.
        let known = self.entries.get(&hash);
        if known.is_some_and(|known| Arc::ptr_eq(&known, entry)) {
            return;
        }
        self.entries.insert(hash, Arc::clone(entry));
    }

    /// The hashes remembered for the key `id`.
    fn hashes_of(&self, id: &str) -> Vec<KeyHash> {
        self.entries
            .iter()
            .filter(|entry| &*entry.value().record().id == id)
            .map(|entry| *entry.key())
            .collect()
    }

    /// Forgets the key `id` under every hash but `keep`. A scan, on administrative writes only.
    fn forget_other_hashes(&self, id: &str, keep: Option<KeyHash>) {
        self.entries
            .retain(|hash, entry| &*entry.record().id != id || Some(*hash) == keep);
    }

    /// Notes what the shared store found for `hash`; nothing is kept under `deny`, which never
    /// reads it.
    fn note(&self, hash: KeyHash, found: Option<&Arc<KeyEntry>>, policy: StoreErrorPolicy) {
        match (found, policy) {
            (_, StoreErrorPolicy::Deny) => {}
            (Some(entry), _) => self.remember(hash, entry),
            (None, _) => {
                self.entries.remove(&hash);
            }
        }
    }

    /// The look-up's answer under `policy`, noting what the shared store said.
    fn answer(
        &self,
        hash: KeyHash,
        answer: Result<Option<Arc<KeyEntry>>, StoreError>,
        policy: StoreErrorPolicy,
    ) -> Result<Option<Arc<KeyEntry>>, StoreError> {
        match (answer, policy) {
            (Ok(found), _) => {
                self.note(hash, found.as_ref(), policy);
                Ok(found)
            }
            (Err(error), StoreErrorPolicy::Deny) => Err(error),
            (Err(error), StoreErrorPolicy::Local | StoreErrorPolicy::Allow) => self
                .entries
                .get(&hash)
                .map(|entry| Some(Arc::clone(&entry)))
                .ok_or(error),
        }
    }
}

impl<S: KeyStore> KeyStore for WithFallback<S, LastKnownKeys> {
    type Lookup = Pin<Box<dyn Future<Output = Result<Option<Arc<KeyEntry>>, StoreError>> + Send>>;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        let (known, policy, hash) = (Arc::clone(&self.local), self.policy, *hash);
        let probed = Arc::clone(&known);
        // Key records live in one part of any store (one hash slot on a cluster).
        let primary = self.breaker.attempt(
            0,
            policy,
            || self.primary.find_by_hash(&hash),
            // The request was answered from memory; what the probe found is newer.
            move |answer| {
                if let Ok(found) = answer {
                    probed.note(hash, found.as_ref(), policy);
                }
            },
        );
        let breaker = Arc::clone(&self.breaker);
        Box::pin(async move {
            let answer = breaker.answer(0, policy, primary).await;
            known.answer(hash, answer, policy)
        })
    }

    fn record_use(&self, entry: &KeyEntry, at: Timestamp) {
        self.primary.record_use(entry, at);
    }

    fn insert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        let (primary, known, policy) = (
            Arc::clone(&self.primary),
            Arc::clone(&self.local),
            self.policy,
        );
        async move {
            let hash = record.sha256;
            primary.insert(record, now).await?;
            if policy != StoreErrorPolicy::Deny {
                // Seen from now on, so the key authenticates here during an outage that starts
                // before its first request. The shared store's own entry, for its usage.
                if let Ok(Some(entry)) = primary.find_by_hash(&hash).await {
                    known.remember(hash, &entry);
                }
            }
            Ok(())
        }
    }

    fn revoke(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send {
        let (primary, known, policy) = (
            Arc::clone(&self.primary),
            Arc::clone(&self.local),
            self.policy,
        );
        let id: Arc<str> = Arc::from(id);
        async move {
            primary.revoke(&id, at).await?;
            // The revoked record replaces the live one remembered for an outage.
            for hash in known.hashes_of(&id) {
                if let Ok(found) = primary.find_by_hash(&hash).await {
                    known.note(hash, found.as_ref(), policy);
                }
            }
            Ok(())
        }
    }

    fn usage(&self, id: &str) -> impl Future<Output = Result<KeyUsage, KeyStoreError>> + Send {
        self.primary.usage(id)
    }

    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send {
        // Like `usage`: an administrator reads the shared store or learns that it did not
        // answer; what this process remembers is for admitting requests, not for reports.
        self.primary.record(id)
    }

    fn upsert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<Upserted, KeyStoreError>> + Send {
        let (primary, known, policy) = (
            Arc::clone(&self.primary),
            Arc::clone(&self.local),
            self.policy,
        );
        async move {
            let (id, hash) = (Arc::clone(&record.id), record.sha256);
            let upserted = primary.upsert(record, now).await?;
            // A key given a new hash must not answer under the old one during an outage.
            known.forget_other_hashes(&id, Some(hash));
            if policy != StoreErrorPolicy::Deny
                && let Ok(found) = primary.find_by_hash(&hash).await
            {
                known.note(hash, found.as_ref(), policy);
            }
            Ok(upserted)
        }
    }

    fn owned_records(
        &self,
        owner: RecordOwner,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, KeyStoreError>> + Send {
        self.primary.owned_records(owner)
    }
}

#[cfg(test)]
mod tests;
