use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::{KeyEntry, KeyHash, KeyRecord, KeyUsage};
use crate::clock::Timestamp;
use crate::store::{RecordOwner, StoreError};

/// Where key records live. Look-ups go by hash; the key itself is never given to a store.
///
/// The look-up future is an associated type, not a boxed future, so that the auth stage can hold
/// it inline in its own response future: the in-memory store answers with
/// [`std::future::Ready`] and a request costs no allocation. The administrative calls, off the
/// request path, return `impl Future`.
pub trait KeyStore: Send + Sync + 'static {
    /// The future of [`KeyStore::find_by_hash`].
    type Lookup: Future<Output = Result<Option<Arc<KeyEntry>>, StoreError>> + Send + 'static;

    /// The entry whose record has this hash, revoked and expired ones included (the stage tells
    /// the client which).
    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup;

    /// Counts one authenticated request. Must not wait: stores that keep usage elsewhere batch it.
    fn record_use(&self, entry: &KeyEntry, at: Timestamp) {
        entry.record_use(at);
    }

    /// Adds a record. Refused if its id or hash is taken or tombstoned: a revoked key's record
    /// restored from an old backup stays out.
    fn insert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send;

    /// Revokes the key with this id at `at`, and leaves tombstones for its id and hash.
    fn revoke(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send;

    /// The usage of the key with this id.
    fn usage(&self, id: &str) -> impl Future<Output = Result<KeyUsage, KeyStoreError>> + Send;

    /// The record with this id, revoked ones included (with `revoked_at`); `None` when no
    /// record has it. An administrative read: a shared store that does not answer is an error,
    /// never a record remembered from before.
    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send;

    /// Adds the record, or replaces the record with its id: a new hash, limits, expiry,
    /// environment or project, in one atomic step. The usage counted so far stays with the id.
    ///
    /// - A changed hash leaves a tombstone for the old hash, so the old key never works again.
    /// - Refused with [`KeyStoreError::Tombstoned`] when the id or the new hash is tombstoned,
    ///   or when the stored record is revoked: revocation is one-way.
    /// - Refused with [`KeyStoreError::OwnedBy`] when the stored record has another owner: the
    ///   file changes only its own records, the API only its own.
    /// - Refused with [`KeyStoreError::DuplicateHash`] when another id holds the new hash.
    /// - A record with `revoked_at` is stored revoked and tombstoned, like [`KeyStore::insert`].
    fn upsert(
        &self,
        record: KeyRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<Upserted, KeyStoreError>> + Send;

    /// Every record `owner` manages, revoked ones included, in no particular order: what
    /// reconciling the config file compares the file with.
    fn owned_records(
        &self,
        owner: RecordOwner,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, KeyStoreError>> + Send;
}

/// What [`KeyStore::upsert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    /// No record had the id: it was added.
    Added,
    /// The record with the id was replaced.
    Changed,
    /// The record with the id was already this one: nothing was written.
    Unchanged,
}

/// Why an administrative key-store call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// Another record has this id.
    DuplicateId(Arc<str>),
    /// Another record has this hash (its id is given, never the hash).
    DuplicateHash {
        /// The id of the record being added.
        id: Arc<str>,
        /// The id of the record that has the same hash.
        existing: Arc<str>,
    },
    /// The id or hash of this record was deleted and its tombstone still stands.
    Tombstoned(Arc<str>),
    /// No record has this id.
    UnknownKey(Arc<str>),
    /// The record with this id has another owner, who alone may change it.
    OwnedBy {
        /// The record's id.
        id: Arc<str>,
        /// Who manages it.
        owner: RecordOwner,
    },
    /// The store did not answer.
    Store(StoreError),
}

impl fmt::Display for KeyStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyStoreError::DuplicateId(id) => write!(f, "a key with id `{id}` already exists"),
            KeyStoreError::DuplicateHash { id, existing } => {
                write!(f, "key `{id}` has the same sha256 as key `{existing}`")
            }
            KeyStoreError::Tombstoned(id) => write!(
                f,
                "key `{id}` was revoked and its tombstone refuses restoring it"
            ),
            KeyStoreError::UnknownKey(id) => write!(f, "no key with id `{id}`"),
            KeyStoreError::OwnedBy { id, owner } => {
                let who = match owner {
                    RecordOwner::Config => "the config file",
                    RecordOwner::Api => "the admin API",
                };
                write!(
                    f,
                    "key `{id}` is managed by {who}, which alone may change it"
                )
            }
            KeyStoreError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for KeyStoreError {}

impl From<StoreError> for KeyStoreError {
    fn from(e: StoreError) -> Self {
        KeyStoreError::Store(e)
    }
}
