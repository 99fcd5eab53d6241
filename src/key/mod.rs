//! API keys: the format, hashing, records and the stores that hold them (section 4).
//!
//! A key is `msk_live_` (production) or `msk_test_` (development), 32 random base62 characters,
//! then 6 base62 characters of the CRC32 of everything before them. The checksum lets a mistyped
//! or truncated key be refused without a store look-up, and lets secret scanners recognise
//! leaked keys. Stores keep the SHA-256 of the key, never the key.
//!
//! Admin tokens ([`AdminToken`], section 12) use the same format with the prefix `msa_` and no
//! environment tag; the config's `[[admin_tokens]]` keeps their SHA-256 and role
//! ([`AdminTokenRecord`]).
//!
//! # Example
//! ```
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::key::{ApiKey, KeyFormatError};
//!
//! let key = ApiKey::generate(Environment::Development).unwrap();
//! assert!(key.expose_secret().starts_with("msk_test_"));
//! assert_eq!(ApiKey::parse(key.expose_secret()).unwrap().hash(), key.hash());
//! assert_eq!(ApiKey::parse("msk_test_short").unwrap_err(), KeyFormatError::WrongLength);
//! ```

mod admin_token;
mod fallback;
mod format;
mod hash;
mod memory;
mod record;
mod store;

pub use crate::store::{RecordOwner, WithFallback};
pub use admin_token::{
    ADMIN_TOKEN_LEN, AdminRole, AdminToken, AdminTokenFormatError, AdminTokenRecord,
    UnknownAdminRole,
};
pub use fallback::LastKnownKeys;
pub use format::{ApiKey, KEY_LEN, KeyFormatError};
pub(crate) use hash::KeyHashState;
pub use hash::{InvalidKeyHash, KeyHash};
pub use memory::MemoryKeyStore;
pub use record::{KeyEntry, KeyRecord, KeyUsage};
pub use store::{KeyStore, KeyStoreError, Upserted};
