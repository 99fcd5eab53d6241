use std::fmt;
use std::hash::{Hash, Hasher};

use subtle::ConstantTimeEq;

/// The SHA-256 of a whole API key (or admin token): what stores keep instead of the secret.
///
/// Equality is constant-time, so a map look-up that compares hashes leaks nothing about how
/// many leading bytes matched. `Debug` shows a short prefix only: enough to tell two records
/// apart in a test failure, not enough to be worth anything.
#[derive(Clone, Copy)]
pub struct KeyHash([u8; 32]);

/// The text was not 64 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidKeyHash;

impl fmt::Display for InvalidKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256 must be 64 lowercase hex digits")
    }
}

impl std::error::Error for InvalidKeyHash {}

impl KeyHash {
    /// A hash from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyHash(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 lowercase hex digits, the form of the config file.
    pub fn from_hex(text: &str) -> Result<Self, InvalidKeyHash> {
        let mut bytes = [0u8; 32];
        match base16ct::lower::decode(text, &mut bytes) {
            Ok(decoded) if decoded.len() == 32 => Ok(KeyHash(bytes)),
            _ => Err(InvalidKeyHash),
        }
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        base16ct::lower::encode_string(&self.0)
    }
}

impl PartialEq for KeyHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for KeyHash {}

impl Hash for KeyHash {
    /// The first 8 bytes only: a SHA-256 is uniform already, and equality still compares all 32.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(prefix));
    }
}

/// The hasher of maps keyed by [`KeyHash`]: the digest's first 8 bytes are the hash, with no
/// second hashing over them. Only for maps whose entries are digests of keys the operator made:
/// a caller can pick digests that share a bucket with each other, but a look-up of an absent
/// one still only meets the real entries of that bucket. A map that holds digests callers
/// present (a cache of unknown keys) needs a keyed hasher instead.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyHashHasher(u64);

impl Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, prefix: u64) {
        self.0 = prefix;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is called by `KeyHash`; fold anything else in so nothing is lost.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
}

/// [`KeyHashHasher`] as a map's hasher.
pub(crate) type KeyHashState = std::hash::BuildHasherDefault<KeyHashHasher>;

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keyed_by_hash_find_by_all_32_bytes_and_hash_by_the_first_8() {
        use std::hash::BuildHasher;
        let a = KeyHash::from_hex(&"00ff".repeat(16)).unwrap();
        // The same first 8 bytes, another digest: one bucket, two entries.
        let b = KeyHash::from_hex(&format!("{}{}", "00ff".repeat(4), "11".repeat(24))).unwrap();
        let state = KeyHashState::default();
        assert_eq!(state.hash_one(a), state.hash_one(b));
        assert_eq!(
            state.hash_one(a),
            u64::from_le_bytes([0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff])
        );
        let map: dashmap::DashMap<KeyHash, u8, KeyHashState> = dashmap::DashMap::default();
        map.insert(a, 1);
        map.insert(b, 2);
        assert_eq!(
            (map.get(&a).map(|v| *v), map.get(&b).map(|v| *v)),
            (Some(1), Some(2))
        );
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let hex = "00ff".repeat(16);
        assert_eq!(KeyHash::from_hex(&hex).unwrap().to_hex(), hex);
        assert_eq!(KeyHash::from_hex(&"00FF".repeat(16)), Err(InvalidKeyHash));
        assert_eq!(KeyHash::from_hex("00"), Err(InvalidKeyHash));
        assert_eq!(KeyHash::from_hex(&"zz".repeat(32)), Err(InvalidKeyHash));
        assert_eq!(KeyHash::from_hex(&"é".repeat(32)), Err(InvalidKeyHash));
    }
}
