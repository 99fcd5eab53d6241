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
        let text = text.as_bytes();
        if text.len() != 64 {
            return Err(InvalidKeyHash);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(KeyHash(bytes))
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }
}

fn hex_digit(c: u8) -> Result<u8, InvalidKeyHash> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(InvalidKeyHash),
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
