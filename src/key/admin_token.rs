//! Admin tokens (section 12): `msa_`, 32 random base62 characters, then 6 base62 characters of
//! the CRC32 of everything before them: the API key format with its own prefix and no
//! environment tag. The config's `[[admin_tokens]]` holds their SHA-256 and role.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::KeyHash;
use super::format::{BODY_LEN, BodyProblem, check_body, fill_body};

const PREFIX: &[u8; 4] = b"msa_";
/// The length of every admin token, in bytes: 4 + 32 + 6.
pub const ADMIN_TOKEN_LEN: usize = PREFIX.len() + BODY_LEN;

/// A well-formed admin token: the `msa_` prefix, a base62 body and a matching checksum.
///
/// Like [`ApiKey`](super::ApiKey), the secret sits in a fixed array, `Debug` shows nothing of
/// it, there is no `Display`, and [`AdminToken::expose_secret`] is the one way to the text.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken {
    text: [u8; ADMIN_TOKEN_LEN],
}

/// Why a text is not a well-formed admin token. The messages never repeat the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminTokenFormatError {
    /// Not exactly 42 bytes long.
    WrongLength,
    /// Does not start with `msa_`.
    UnknownPrefix,
    /// A character outside `0-9A-Za-z` after the prefix.
    NotBase62,
    /// The last six characters are not the CRC32 of the rest.
    ChecksumMismatch,
}

impl AdminTokenFormatError {
    /// The reason as a fixed sentence, safe to show a client: it never contains the token.
    pub const fn message(self) -> &'static str {
        match self {
            AdminTokenFormatError::WrongLength => "an admin token is 42 characters long",
            AdminTokenFormatError::UnknownPrefix => "an admin token starts with the admin prefix",
            AdminTokenFormatError::NotBase62 => "an admin token's body is base62 (0-9, A-Z, a-z)",
            AdminTokenFormatError::ChecksumMismatch => "the admin token's checksum does not match",
        }
    }
}

impl fmt::Display for AdminTokenFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AdminTokenFormatError {}

impl AdminToken {
    /// A new random token, from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut text = [0u8; ADMIN_TOKEN_LEN];
        text[..PREFIX.len()].copy_from_slice(PREFIX);
        fill_body(&mut text)?;
        Ok(AdminToken { text })
    }

    /// Checks the format and checksum of `text`; no store is consulted.
    pub fn parse(text: &str) -> Result<Self, AdminTokenFormatError> {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`AdminToken::parse`] over raw header bytes, so that non-UTF-8 input is just malformed.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, AdminTokenFormatError> {
        // The length check comes first so that an 8 KiB header costs no more than a short one.
        let text: [u8; ADMIN_TOKEN_LEN] = bytes
            .try_into()
            .map_err(|_| AdminTokenFormatError::WrongLength)?;
        if !text.starts_with(PREFIX) {
            return Err(AdminTokenFormatError::UnknownPrefix);
        }
        check_body(&text).map_err(|problem| match problem {
            BodyProblem::NotBase62 => AdminTokenFormatError::NotBase62,
            BodyProblem::ChecksumMismatch => AdminTokenFormatError::ChecksumMismatch,
        })?;
        Ok(AdminToken { text })
    }

    /// The SHA-256 of the whole token: what `[[admin_tokens]]` keeps. A [`KeyHash`], so that
    /// comparisons are constant-time as for API keys.
    pub fn hash(&self) -> KeyHash {
        KeyHash::from_bytes(Sha256::digest(self.text).into())
    }

    /// The token's text. Call only to hand the token to its owner (it is printed once).
    pub fn expose_secret(&self) -> &str {
        // Built only from an ASCII prefix and base62 characters.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What an admin token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminRole {
    /// Every admin call.
    Admin,
    /// `GET` calls only.
    Read,
}

impl AdminRole {
    /// `admin` or `read`, as in the config file.
    pub const fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::Read => "read",
        }
    }
}

impl fmt::Display for AdminRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was neither `admin` nor `read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownAdminRole;

impl fmt::Display for UnknownAdminRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("role must be \"admin\" or \"read\"")
    }
}

impl std::error::Error for UnknownAdminRole {}

impl FromStr for AdminRole {
    type Err = UnknownAdminRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(AdminRole::Admin),
            "read" => Ok(AdminRole::Read),
            _ => Err(UnknownAdminRole),
        }
    }
}

/// An `[[admin_tokens]]` entry: the token's public id, its SHA-256 and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminTokenRecord {
    /// The public id, e.g. `tok_ops`: safe to log and to audit.
    pub id: String,
    /// The SHA-256 of the whole token.
    pub sha256: KeyHash,
    /// What the token may do.
    pub role: AdminRole,
}

impl AdminTokenRecord {
    /// A record of the token whose hash is `sha256`.
    pub fn new(id: impl Into<String>, sha256: KeyHash, role: AdminRole) -> Self {
        AdminTokenRecord {
            id: id.into(),
            sha256,
            role,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ApiKey;

    #[test]
    fn generated_tokens_parse_and_hash_the_same() {
        let token = AdminToken::generate().unwrap();
        let text = token.expose_secret();
        assert!(text.starts_with("msa_") && text.len() == 42, "{text}");
        let parsed = AdminToken::parse(text).unwrap();
        assert_eq!(parsed.hash(), token.hash());
        assert_ne!(AdminToken::generate().unwrap(), token);
    }

    #[test]
    fn the_checksum_is_the_api_key_one_over_the_msa_prefix() {
        // CRC32("msa_" + 32 zeros), in six base62 digits, computed by hand from the definition.
        let head = format!("msa_{}", "0".repeat(32));
        let mut value = crc32fast::hash(head.as_bytes());
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut digits = [0u8; 6];
        for digit in digits.iter_mut().rev() {
            *digit = alphabet[(value % 62) as usize];
            value /= 62;
        }
        let token = format!("{head}{}", std::str::from_utf8(&digits).unwrap());
        assert!(AdminToken::parse(&token).is_ok(), "{token}");
    }

    #[test]
    fn malformed_tokens_are_refused_for_what_they_are() {
        let token = AdminToken::generate().unwrap();
        let text = token.expose_secret().to_owned();
        let mut edited = text.clone().into_bytes();
        edited[10] = if edited[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            AdminToken::parse_bytes(&edited),
            Err(AdminTokenFormatError::ChecksumMismatch)
        );
        let not_base62 = format!("{}!", &text[..41]);
        assert_eq!(
            AdminToken::parse(&not_base62),
            Err(AdminTokenFormatError::NotBase62)
        );
        let other_prefix = format!("msb_{}", &text[4..]);
        assert_eq!(
            AdminToken::parse(&other_prefix),
            Err(AdminTokenFormatError::UnknownPrefix)
        );
        assert_eq!(
            AdminToken::parse(&text[..41]),
            Err(AdminTokenFormatError::WrongLength)
        );
        // An API key is not an admin token, whatever its length.
        let key = ApiKey::generate(crate::Environment::Production).unwrap();
        assert!(AdminToken::parse(key.expose_secret()).is_err());
        for error in [
            AdminTokenFormatError::WrongLength,
            AdminTokenFormatError::UnknownPrefix,
            AdminTokenFormatError::NotBase62,
            AdminTokenFormatError::ChecksumMismatch,
        ] {
            assert!(!error.to_string().contains(&text[4..]));
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = AdminToken::generate().unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains("msa_"), "{shown}");
        assert!(!shown.contains(&token.expose_secret()[4..20]), "{shown}");
    }

    #[test]
    fn roles_read_and_print_as_in_the_file() {
        for role in [AdminRole::Admin, AdminRole::Read] {
            assert_eq!(role.as_str().parse::<AdminRole>(), Ok(role));
        }
        assert_eq!("Admin".parse::<AdminRole>(), Err(UnknownAdminRole));
        assert_eq!("write".parse::<AdminRole>(), Err(UnknownAdminRole));
    }
}
