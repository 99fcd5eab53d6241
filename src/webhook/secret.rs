use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use subtle::ConstantTimeEq;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A webhook signing secret: the bytes behind `whsec_<base64>`.
///
/// `Debug` never shows it, and there is no `Display`; [`WebhookSecret::expose`] is the one way
/// back to the text, for handing it to the endpoint's owner once.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// Why a text is not a `whsec_` secret. The messages never repeat the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// It does not start with `whsec_`.
    MissingPrefix,
    /// The rest is not standard base64.
    NotBase64,
    /// The key is shorter than 24 bytes (the spec's minimum) or longer than 64.
    BadLength,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretError::MissingPrefix => "a webhook secret starts with whsec_",
            SecretError::NotBase64 => "a webhook secret is whsec_ followed by base64",
            SecretError::BadLength => "a webhook secret holds 24 to 64 bytes",
        })
    }
}

impl std::error::Error for SecretError {}

impl WebhookSecret {
    /// The shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 24;
    /// The longest key accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        // Longer text cannot decode to an accepted key: refuse before decoding.
        if encoded.len() > Self::MAX_LEN.div_ceil(3) * 4 {
            return Err(SecretError::BadLength);
        }
        // Padded or not: other implementations (the Python package among them) accept both.
        let key = STANDARD
            .decode(encoded)
            .or_else(|_| STANDARD_NO_PAD.decode(encoded))
            .map_err(|_| SecretError::NotBase64)?;
        Self::from_bytes(key)
    }

    /// A secret from raw key bytes.
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, SecretError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&key.len()) {
            return Err(SecretError::BadLength);
        }
        Ok(WebhookSecret { key })
    }

    /// A new random 32-byte secret.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(WebhookSecret { key })
    }

    /// `whsec_<base64>`: give it to the endpoint's owner, once.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    pub(super) fn key(&self) -> &[u8] {
        &self.key
    }
}

/// Constant-time: comparing secrets must not tell how many leading bytes matched.
impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        self.key.len() == other.key.len() && bool::from(self.key.ct_eq(&other.key))
    }
}

impl Eq for WebhookSecret {}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}
