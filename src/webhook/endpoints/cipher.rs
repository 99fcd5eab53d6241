//! Endpoint secrets at rest: AES-256-GCM under the operator's key, a random 96-bit nonce per
//! sealing, and the endpoint's id as associated data, so that a sealed secret copied onto
//! another endpoint's record does not open.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use crate::webhook::WebhookSecret;

/// The version tag in front of every sealed secret: a later format gets another.
const SEALED_V1: &str = "v1.";
/// Bytes of a GCM nonce.
const NONCE_LEN: usize = 12;
/// Bytes of the key.
pub const SECRET_KEY_LEN: usize = 32;

/// The key that seals endpoint secrets (`[admin] secret_key_env` or `secret_key_file`): 32
/// bytes, given as base64. Never shown by `Debug`; compared in constant time.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; SECRET_KEY_LEN],
}

/// Why a key, or a sealed secret, could not be used. The messages never quote either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CipherError {
    /// The key text is not base64 of exactly 32 bytes.
    BadKey,
    /// The sealed text is not one this crate writes (unknown version, not base64, too short).
    Malformed,
    /// The sealed secret does not open: another key, another endpoint's secret, or tampered.
    WrongKeyOrTampered,
    /// It opened, but what it holds is not a webhook secret.
    NotASecret,
    /// No randomness for a nonce.
    NoRandomness,
}

impl fmt::Display for CipherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CipherError::BadKey => "the secret key must be base64 of exactly 32 bytes",
            CipherError::Malformed => "a sealed endpoint secret is malformed",
            CipherError::WrongKeyOrTampered => {
                "a sealed endpoint secret does not open with this key (another key, or tampered)"
            }
            CipherError::NotASecret => "a sealed endpoint secret holds no webhook secret",
            CipherError::NoRandomness => "no randomness for a nonce",
        })
    }
}

impl std::error::Error for CipherError {}

impl SecretKey {
    /// A key from its base64 text (standard alphabet, padded or not; surrounding whitespace,
    /// such as a file's last newline, ignored).
    pub fn from_base64(text: &str) -> Result<Self, CipherError> {
        let text = text.trim();
        let decoded = STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| CipherError::BadKey)?;
        let bytes: [u8; SECRET_KEY_LEN] = decoded.try_into().map_err(|_| CipherError::BadKey)?;
        Ok(SecretKey { bytes })
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; SECRET_KEY_LEN]) -> Self {
        SecretKey { bytes }
    }

    /// A new random key.
    pub fn generate() -> Result<Self, CipherError> {
        let mut bytes = [0u8; SECRET_KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|_| CipherError::NoRandomness)?;
        Ok(SecretKey { bytes })
    }

    /// The key as base64, for writing it where the config will read it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    fn cipher(&self) -> Result<Aes256Gcm, CipherError> {
        Aes256Gcm::new_from_slice(&self.bytes).map_err(|_| CipherError::BadKey)
    }

    /// `secret` sealed for the endpoint `endpoint_id`: `v1.` then base64 of nonce and
    /// ciphertext with its tag.
    pub fn seal(&self, endpoint_id: &str, secret: &WebhookSecret) -> Result<String, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CipherError::NoRandomness)?;
        let payload = Payload {
            msg: secret.key(),
            aad: endpoint_id.as_bytes(),
        };
        let sealed = self
            .cipher()?
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| CipherError::WrongKeyOrTampered)?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!("{SEALED_V1}{}", STANDARD.encode(bytes)))
    }

    /// The secret `sealed` holds, if it was sealed with this key for `endpoint_id`.
    pub fn open(&self, endpoint_id: &str, sealed: &str) -> Result<WebhookSecret, CipherError> {
        let encoded = sealed
            .strip_prefix(SEALED_V1)
            .ok_or(CipherError::Malformed)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| CipherError::Malformed)?;
        // A nonce and at least a tag.
        if bytes.len() < NONCE_LEN + 16 {
            return Err(CipherError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CipherError::Malformed)?;
        let payload = Payload {
            msg: ciphertext,
            aad: endpoint_id.as_bytes(),
        };
        let key = self
            .cipher()?
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| CipherError::WrongKeyOrTampered)?;
        WebhookSecret::from_bytes(key).map_err(|_| CipherError::NotASecret)
    }
}

/// Constant-time: comparing keys must not tell how many leading bytes matched.
impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.bytes.ct_eq(&other.bytes))
    }
}

impl Eq for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_endpoint_only() {
        let key = SecretKey::generate().unwrap();
        let secret = WebhookSecret::generate().unwrap();
        let sealed = key.seal("ep_a", &secret).unwrap();
        assert!(!sealed.contains(&secret.expose()["whsec_".len()..]));
        assert_eq!(key.open("ep_a", &sealed), Ok(secret.clone()));
        // Two sealings of one secret differ: a fresh nonce each time.
        assert_ne!(key.seal("ep_a", &secret).unwrap(), sealed);

        let other = SecretKey::generate().unwrap();
        assert_eq!(
            other.open("ep_a", &sealed),
            Err(CipherError::WrongKeyOrTampered)
        );
        assert_eq!(
            key.open("ep_b", &sealed),
            Err(CipherError::WrongKeyOrTampered),
            "moved onto another endpoint"
        );
    }

    #[test]
    fn tampered_or_malformed_text_is_an_error_not_a_panic() {
        let key = SecretKey::generate().unwrap();
        let sealed = key
            .seal("ep_a", &WebhookSecret::generate().unwrap())
            .unwrap();
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        for at in [0, 12, bytes.len() - 1] {
            bytes[at] ^= 1;
            let tampered = format!("v1.{}", STANDARD.encode(&bytes));
            assert_eq!(
                key.open("ep_a", &tampered),
                Err(CipherError::WrongKeyOrTampered)
            );
            bytes[at] ^= 1;
        }
        for text in ["", "v1.", "v1.AAAA", "v2.AAAA", "v1.!!!!", &sealed[3..]] {
            assert_eq!(
                key.open("ep_a", text),
                Err(CipherError::Malformed),
                "{text}"
            );
        }
    }

    #[test]
    fn keys_are_32_bytes_of_base64_and_never_shown() {
        let key = SecretKey::generate().unwrap();
        let text = key.to_base64();
        assert_eq!(
            SecretKey::from_base64(&format!(" {text}\n")),
            Ok(key.clone())
        );
        assert_eq!(SecretKey::from_base64("c2hvcnQ="), Err(CipherError::BadKey));
        assert_eq!(
            SecretKey::from_base64("not base64!"),
            Err(CipherError::BadKey)
        );
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
    }
}
