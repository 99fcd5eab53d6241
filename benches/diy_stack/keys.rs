//! The API keys the stack admits: SHA-256 of the key text to the key's id and scope, read from
//! a memorysync config's `[[keys]]`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use memorysync_pipeline::Environment;
use memorysync_pipeline::scope::Scope;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The key a request was admitted with, in its extensions: what the rate limit is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyId(Arc<str>);

/// Who a known key belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) key: KeyId,
    pub(crate) scope: Scope,
}

/// Known keys by the SHA-256 of their text.
#[derive(Debug)]
pub(crate) struct KeyTable {
    by_hash: HashMap<[u8; 32], Caller>,
    rps: u32,
}

/// The part of a config file read here; every other field is ignored.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    keys: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    sha256: String,
    project: String,
    environment: Environment,
    rps: Option<u32>,
    revoked_at: Option<toml::Value>,
}

impl KeyTable {
    /// The unrevoked `[[keys]]` of the config file at `path`. They must share one `rps`:
    /// `tower_governor` applies one quota to every key of a layer.
    pub(crate) fn load(path: &Path) -> Result<Arc<KeyTable>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: File =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        let mut by_hash = HashMap::new();
        let mut rps = None;
        for entry in file.keys.into_iter().filter(|e| e.revoked_at.is_none()) {
            let Some(key_rps) = entry.rps else {
                return Err(format!("key {}: set its rps", entry.id));
            };
            if *rps.get_or_insert(key_rps) != key_rps {
                return Err(format!("key {}: every key needs the same rps", entry.id));
            }
            let hash = decode_hash(&entry.sha256)
                .ok_or_else(|| format!("key {}: sha256 is not 64 hex digits", entry.id))?;
            let caller = Caller {
                key: KeyId(entry.id.into()),
                scope: Scope::new(entry.project, entry.environment),
            };
            by_hash.insert(hash, caller);
        }
        let rps = rps.ok_or_else(|| format!("{}: no unrevoked [[keys]]", path.display()))?;
        Ok(Arc::new(KeyTable { by_hash, rps }))
    }

    /// The caller whose key has this text, if any.
    pub(crate) fn find(&self, key: &[u8]) -> Option<&Caller> {
        let hash: [u8; 32] = Sha256::digest(key).into();
        self.by_hash.get(&hash)
    }

    /// Requests per second allowed to each key.
    pub(crate) fn rps(&self) -> u32 {
        self.rps
    }
}

fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    let decoded = base16ct::mixed::decode(hex, &mut hash).ok()?;
    (decoded.len() == 32).then_some(hash)
}
