//! Which config file a store was last reconciled with, so that an older file never undoes a
//! newer one: the [`ConfigVersionStore`] trait and its in-memory implementation.

use std::fmt;
use std::future::{Future, ready};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::StoreError;

/// The SHA-256 of a config file's reconciled content (its keys and plans, in a canonical form),
/// so that two files with one `config_version` but different content are told apart while a
/// comment or a listener change is not.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfigDigest(pub [u8; 32]);

impl ConfigDigest {
    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        base16ct::lower::encode_string(&self.0)
    }

    /// From 64 hex digits; `None` for anything else.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        match base16ct::mixed::decode(hex, &mut bytes) {
            Ok(decoded) if decoded.len() == 32 => Some(ConfigDigest(bytes)),
            _ => None,
        }
    }
}

impl fmt::Debug for ConfigDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first 12 digits name a file in a log; all 64 are in the store.
        write!(f, "ConfigDigest({}…)", &self.to_hex()[..12])
    }
}

/// A config file as reconciled: its `config_version` and the digest of its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedConfig {
    /// `config_version` (0 when the file has none).
    pub version: u64,
    /// The digest of the reconciled content.
    pub digest: ConfigDigest,
}

/// The answer of [`ConfigVersionStore::claim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigClaim {
    /// The first file, or a newer version: recorded as the last applied; go ahead.
    Newer,
    /// The very file last applied (same version, same digest): applying it again changes only
    /// what drifted since (a restart, a second instance); go ahead.
    Same,
    /// Refused: the store has applied a newer version.
    Older {
        /// What the store applied last.
        applied: AppliedConfig,
    },
    /// Refused: the store applied another file with the same version.
    Conflicting {
        /// What the store applied last.
        applied: AppliedConfig,
    },
    /// Another reconciliation holds the lease; ask again later.
    Busy,
}

/// Where a store keeps the config file last reconciled with it, and the lease that lets one
/// reconciliation at a time write.
///
/// The check and the record are one atomic step ([`ConfigVersionStore::claim`]), so two
/// instances reconciling different files at once cannot both win. The lease keeps a claimed
/// reconciliation's writes from interleaving with another's: without it, an instance still
/// revoking the keys an older file dropped could revoke a key that a newer file, claimed just
/// after, adds. A lease expires by itself, so a process that dies mid-way blocks the next
/// reconciliation for at most the lease.
pub trait ConfigVersionStore: Send + Sync + 'static {
    /// Refuses `file` when it is older than the last applied file or has its version with
    /// another digest, or when another holder's lease stands; otherwise records `file` as the
    /// last applied and gives `holder` the lease for `lease`.
    fn claim(
        &self,
        file: AppliedConfig,
        holder: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<ConfigClaim, StoreError>> + Send;

    /// Gives back the lease `holder` took; nothing when it expired or is another's.
    fn release(&self, holder: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The last file applied, if any.
    fn applied(&self) -> impl Future<Output = Result<Option<AppliedConfig>, StoreError>> + Send;
}

/// The config last reconciled, kept in process memory: the store of a `memory` deployment, whose
/// other records live exactly as long.
#[derive(Debug, Default)]
pub struct MemoryConfigVersions {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    applied: Option<AppliedConfig>,
    lease: Option<(String, Instant)>,
}

impl MemoryConfigVersions {
    /// Nothing applied yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `applied` as the last file applied: what a durable store read back when it opened.
    pub fn with_applied(applied: Option<AppliedConfig>) -> Self {
        MemoryConfigVersions {
            state: Mutex::new(State {
                applied,
                lease: None,
            }),
        }
    }

    fn claim_now(&self, file: AppliedConfig, holder: &str, lease: Duration) -> ConfigClaim {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if let Some((other, until)) = &state.lease
            && other != holder
            && *until > now
        {
            return ConfigClaim::Busy;
        }
        let claim = match state.applied {
            Some(applied) if file.version < applied.version => {
                return ConfigClaim::Older { applied };
            }
            Some(applied) if file.version == applied.version && file.digest != applied.digest => {
                return ConfigClaim::Conflicting { applied };
            }
            Some(applied) if applied == file => ConfigClaim::Same,
            _ => ConfigClaim::Newer,
        };
        state.applied = Some(file);
        state.lease = Some((holder.to_owned(), now + lease));
        claim
    }
}

impl ConfigVersionStore for MemoryConfigVersions {
    fn claim(
        &self,
        file: AppliedConfig,
        holder: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<ConfigClaim, StoreError>> + Send {
        ready(Ok(self.claim_now(file, holder, lease)))
    }

    fn release(&self, holder: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state
            .lease
            .as_ref()
            .is_some_and(|(owner, _)| owner == holder)
        {
            state.lease = None;
        }
        ready(Ok(()))
    }

    fn applied(&self) -> impl Future<Output = Result<Option<AppliedConfig>, StoreError>> + Send {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        ready(Ok(state.applied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: u64, digest: u8) -> AppliedConfig {
        AppliedConfig {
            version,
            digest: ConfigDigest([digest; 32]),
        }
    }

    const LEASE: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn older_and_conflicting_files_are_refused_and_leave_the_record() {
        let store = MemoryConfigVersions::new();
        assert_eq!(
            store.claim(file(5, 1), "a", LEASE).await,
            Ok(ConfigClaim::Newer)
        );
        store.release("a").await.unwrap();
        assert_eq!(
            store.claim(file(5, 1), "b", LEASE).await,
            Ok(ConfigClaim::Same)
        );
        store.release("b").await.unwrap();
        assert_eq!(
            store.claim(file(4, 9), "c", LEASE).await,
            Ok(ConfigClaim::Older {
                applied: file(5, 1)
            })
        );
        assert_eq!(
            store.claim(file(5, 2), "c", LEASE).await,
            Ok(ConfigClaim::Conflicting {
                applied: file(5, 1)
            })
        );
        assert_eq!(store.applied().await, Ok(Some(file(5, 1))));
        assert_eq!(
            store.claim(file(6, 2), "c", LEASE).await,
            Ok(ConfigClaim::Newer)
        );
        assert_eq!(store.applied().await, Ok(Some(file(6, 2))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_holds_off_another_holder_until_released_or_expired() {
        let store = MemoryConfigVersions::new();
        assert_eq!(
            store.claim(file(1, 1), "a", LEASE).await,
            Ok(ConfigClaim::Newer)
        );
        assert_eq!(
            store.claim(file(2, 1), "b", LEASE).await,
            Ok(ConfigClaim::Busy)
        );
        store.release("b").await.unwrap();
        assert_eq!(
            store.claim(file(2, 1), "b", LEASE).await,
            Ok(ConfigClaim::Busy)
        );
        tokio::time::advance(LEASE).await;
        assert_eq!(
            store.claim(file(2, 1), "b", LEASE).await,
            Ok(ConfigClaim::Newer)
        );
        store.release("b").await.unwrap();
        assert_eq!(
            store.claim(file(3, 1), "a", LEASE).await,
            Ok(ConfigClaim::Newer)
        );
    }

    #[test]
    fn digests_read_back_from_hex_and_debug_shows_a_prefix() {
        let digest = ConfigDigest([0xab; 32]);
        assert_eq!(ConfigDigest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(ConfigDigest::from_hex("ab"), None);
        assert_eq!(format!("{digest:?}"), "ConfigDigest(abababababab…)");
    }
}
