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
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

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
    fn hex_round_trip_and_rejects() {
        let hex = "00ff".repeat(16);
        assert_eq!(KeyHash::from_hex(&hex).unwrap().to_hex(), hex);
        assert_eq!(KeyHash::from_hex(&"00FF".repeat(16)), Err(InvalidKeyHash));
        assert_eq!(KeyHash::from_hex("00"), Err(InvalidKeyHash));
        assert_eq!(KeyHash::from_hex(&"zz".repeat(32)), Err(InvalidKeyHash));
        assert_eq!(KeyHash::from_hex(&"é".repeat(32)), Err(InvalidKeyHash));
    }
}
