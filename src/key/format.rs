//! The key format: `msk_live_` or `msk_test_`, 32 random base62 characters, then 6 base62
//! characters of the CRC32 (IEEE) of everything before them. Admin tokens (`admin_token.rs`)
//! share everything after the prefix: [`fill_body`] and [`check_body`].

use std::fmt;

use sha2::{Digest, Sha256};

use super::KeyHash;
use crate::environment::Environment;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX_LEN: usize = "msk_live_".len();
const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// What follows the prefix of every credential of this format: random part and checksum.
pub(super) const BODY_LEN: usize = RANDOM_LEN + CHECKSUM_LEN;
/// The length of every key, in bytes: 9 + 32 + 6.
pub const KEY_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;

/// A well-formed API key: right prefix, base62 body and a matching checksum.
///
/// The secret is kept in a fixed array (no allocation) and never shown: `Debug` prints only the
/// environment, and there is no `Display`. [`ApiKey::expose_secret`] is the one way to the text,
/// named so that it stands out in review.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    text: [u8; KEY_LEN],
    environment: Environment,
}

/// Why a text is not a well-formed key. The messages never repeat the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFormatError {
    /// Not exactly 47 bytes long.
    WrongLength,
    /// Does not start with `msk_live_` or `msk_test_`.
    UnknownPrefix,
    /// A character outside `0-9A-Za-z` after the prefix.
    NotBase62,
    /// The last six characters are not the CRC32 of the rest.
    ChecksumMismatch,
}

impl KeyFormatError {
    /// The reason as a fixed sentence, safe to show a client: it never contains the key.
    pub const fn message(self) -> &'static str {
        match self {
            KeyFormatError::WrongLength => "an API key is 47 characters long",
            KeyFormatError::UnknownPrefix => "an API key starts with the live or test key prefix",
            KeyFormatError::NotBase62 => "an API key's body is base62 (0-9, A-Z, a-z)",
            KeyFormatError::ChecksumMismatch => "the API key's checksum does not match",
        }
    }
}

impl fmt::Display for KeyFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for KeyFormatError {}

impl ApiKey {
    /// A new random key for `environment`, from the operating system's CSPRNG.
    pub fn generate(environment: Environment) -> Result<Self, getrandom::Error> {
        let mut text = [0u8; KEY_LEN];
        text[..PREFIX_LEN].copy_from_slice(prefix(environment));
        fill_body(&mut text)?;
        Ok(ApiKey { text, environment })
    }

    /// Checks the format and checksum of `text`; no store is consulted.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`ApiKey::parse`] over raw header bytes, so that non-UTF-8 input is just malformed.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, KeyFormatError> {
        // The length check comes first so that an 8 KiB header costs no more than a short one.
        let text: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyFormatError::WrongLength)?;
        let environment = if text.starts_with(prefix(Environment::Production)) {
            Environment::Production
        } else if text.starts_with(prefix(Environment::Development)) {
            Environment::Development
        } else {
            return Err(KeyFormatError::UnknownPrefix);
        };
        check_body(&text).map_err(|problem| match problem {
            BodyProblem::NotBase62 => KeyFormatError::NotBase62,
            BodyProblem::ChecksumMismatch => KeyFormatError::ChecksumMismatch,
        })?;
        Ok(ApiKey { text, environment })
    }

    /// The environment named by the key's tag.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The SHA-256 of the whole key: what stores keep and look up.
    pub fn hash(&self) -> KeyHash {
        KeyHash::from_bytes(Sha256::digest(self.text).into())
    }

    /// The key's text. Call only to hand the key to its owner (keygen prints it once).
    pub fn expose_secret(&self) -> &str {
        // Built only from ASCII prefixes and base62 characters.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("environment", &self.environment)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn prefix(environment: Environment) -> &'static [u8; PREFIX_LEN] {
    match environment {
        Environment::Production => b"msk_live_",
        Environment::Development => b"msk_test_",
    }
}

/// What is wrong with the part of a credential after its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyProblem {
    /// A character outside `0-9A-Za-z`.
    NotBase62,
    /// The last six characters are not the CRC32 of the rest.
    ChecksumMismatch,
}

/// Fills everything after the prefix that `text` already starts with: [`RANDOM_LEN`] random
/// base62 characters from the operating system's CSPRNG, then the checksum. `text` is the whole
/// credential: its prefix is whatever comes before the last 38 bytes.
pub(super) fn fill_body(text: &mut [u8]) -> Result<(), getrandom::Error> {
    let prefix_len = text.len() - BODY_LEN;
    let checksum_at = prefix_len + RANDOM_LEN;
    let mut filled = prefix_len;
    let mut random = [0u8; 64];
    while filled < checksum_at {
        getrandom::fill(&mut random)?;
        // Rejection sampling: 248 = 4 × 62, so bytes below it map onto base62 uniformly.
        for byte in random.iter().copied().filter(|b| *b < 248) {
            if filled == checksum_at {
                break;
            }
            text[filled] = BASE62[usize::from(byte % 62)];
            filled += 1;
        }
    }
    let checksum = checksum_of(&text[..checksum_at]);
    text[checksum_at..].copy_from_slice(&checksum);
    Ok(())
}

/// Checks the last 38 bytes of a whole credential whose prefix was already checked: base62,
/// and the checksum of everything before the last six.
pub(super) fn check_body(text: &[u8]) -> Result<(), BodyProblem> {
    let prefix_len = text.len().saturating_sub(BODY_LEN);
    if !text[prefix_len..].iter().all(u8::is_ascii_alphanumeric) {
        return Err(BodyProblem::NotBase62);
    }
    let checksum_at = prefix_len + RANDOM_LEN;
    if checksum_of(&text[..checksum_at]) != text[checksum_at..] {
        return Err(BodyProblem::ChecksumMismatch);
    }
    Ok(())
}

/// Six base62 digits of the CRC32 of `head`, most significant first, zero-padded.
fn checksum_of(head: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(head);
    let mut digits = [BASE62[0]; CHECKSUM_LEN];
    // 62^6 > 2^32, so six digits always hold the whole CRC.
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_carry_their_environment() {
        for env in [Environment::Development, Environment::Production] {
            let key = ApiKey::generate(env).unwrap();
            let parsed = ApiKey::parse(key.expose_secret()).unwrap();
            assert_eq!(parsed.environment(), env);
            assert_eq!(parsed.hash(), key.hash());
            assert!(
                key.expose_secret()
                    .starts_with(&format!("msk_{}_", env.key_tag()))
            );
        }
    }

    #[test]
    fn checksum_is_base62_of_crc32_zero_padded() {
        // CRC32("") is 0: six zeros.
        assert_eq!(&checksum_of(b""), b"000000");
        // The CRC32 check value: CRC32("123456789") = 0xCBF43926 = 3421780262, which is
        // 3·62^5 + 45·62^4 + 35·62^3 + 27·62^2 + 22·62 + 14, i.e. "3jZRME" in base62.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(&checksum_of(b"123456789"), b"3jZRME");
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let key = ApiKey::generate(Environment::Production).unwrap();
        let mut text = key.expose_secret().as_bytes().to_vec();
        text[20] = if text[20] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            ApiKey::parse_bytes(&text),
            Err(KeyFormatError::ChecksumMismatch)
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKey::generate(Environment::Production).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("msk_"), "{shown}");
        assert!(!shown.contains(&key.expose_secret()[9..20]));
    }
}
