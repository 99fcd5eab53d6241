//! Standard Webhooks v1 signatures: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::WebhookSecret;
use crate::clock::Timestamp;

/// `webhook-id`.
pub const WEBHOOK_ID: &str = "webhook-id";
/// `webhook-timestamp`.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `webhook-signature`.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// The default tolerance between a message's timestamp and the receiver's clock: 5 minutes,
/// either way.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// The longest `webhook-signature` header read, in bytes: dozens of rotated signatures fit;
/// a megabyte of them is refused before any work.
pub const MAX_SIGNATURE_HEADER: usize = 8 * 1024;
/// The longest `webhook-id` accepted.
pub const MAX_ID_LEN: usize = 256;

/// The signature of one message under one secret: `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(secret, id, timestamp, body)))
}

/// The three headers of a message signed with every secret in `secrets` (several during a
/// rotation, space-separated in one header).
pub fn signed_headers(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect();
    vec![
        (WEBHOOK_ID, id.to_owned()),
        (WEBHOOK_TIMESTAMP, timestamp.to_string()),
        (WEBHOOK_SIGNATURE, signatures.join(" ")),
    ]
}

fn mac(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.key())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Why a message was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header is missing, repeated, or not visible ASCII.
    MissingHeader(&'static str),
    /// `webhook-id` is empty or longer than 256 bytes.
    BadId,
    /// `webhook-timestamp` is not a plain count of seconds (digits only, at most 19).
    BadTimestamp,
    /// The timestamp is further than the tolerance from now, either way.
    OutsideTolerance,
    /// `webhook-signature` is longer than [`MAX_SIGNATURE_HEADER`].
    HeaderTooLong,
    /// No `v1` signature in the header matches.
    NoMatchingSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingHeader(name) => write!(f, "header {name} missing or unreadable"),
            VerifyError::BadId => f.write_str("webhook-id must be 1 to 256 bytes"),
            VerifyError::BadTimestamp => f.write_str("webhook-timestamp must be whole seconds"),
            VerifyError::OutsideTolerance => f.write_str("webhook-timestamp too far from now"),
            VerifyError::HeaderTooLong => f.write_str("webhook-signature header too long"),
            VerifyError::NoMatchingSignature => f.write_str("no matching v1 signature"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The receiving side: checks the three headers and the body against one or more secrets.
#[derive(Clone, Debug)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance_secs: u64,
}

impl Verifier {
    /// A verifier for `secret` with the default ±300 s tolerance.
    pub fn new(secret: WebhookSecret) -> Self {
        Verifier {
            secrets: vec![secret],
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// Also accepts signatures made with `secret` (while rotating).
    #[must_use]
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Accepts timestamps within `secs` of now, either way.
    #[must_use]
    pub fn with_tolerance_secs(mut self, secs: u64) -> Self {
        self.tolerance_secs = secs;
        self
    }

    /// Checks a delivery's headers and body at `now`.
    pub fn verify_headers(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), VerifyError> {
        let one = |name: &'static str| -> Result<&str, VerifyError> {
            let mut values = headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(value), None) => value.to_str().map_err(|_| VerifyError::MissingHeader(name)),
                _ => Err(VerifyError::MissingHeader(name)),
            }
        };
        self.verify(
            one(WEBHOOK_ID)?,
            one(WEBHOOK_TIMESTAMP)?,
            one(WEBHOOK_SIGNATURE)?,
            body,
            now,
        )
    }

    /// Checks the three header values and the body at `now`.
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), VerifyError> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(VerifyError::BadId);
        }
        let sent = parse_timestamp(timestamp).ok_or(VerifyError::BadTimestamp)?;
        let now_secs = now.unix_millis().div_euclid(1000);
        if sent.abs_diff(now_secs) > self.tolerance_secs {
            return Err(VerifyError::OutsideTolerance);
        }
        if signature_header.len() > MAX_SIGNATURE_HEADER {
            return Err(VerifyError::HeaderTooLong);
        }
        let expected: Vec<[u8; 32]> = self
            .secrets
            .iter()
            .map(|secret| mac(secret, id, sent, body))
            .collect();
        let matched = v1_signatures(signature_header).any(|candidate| {
            expected.iter().any(|mac| {
                // Length first (not secret), then constant time.
                candidate.len() == mac.len() && bool::from(candidate.ct_eq(mac))
            })
        });
        if matched {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature)
        }
    }
}

/// A `webhook-timestamp`: ASCII digits only, at most 19 (so it fits an i64), no sign, no
/// exponent, no spaces.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The decoded `v1` signatures of a `webhook-signature` header. Entries are separated by
/// spaces (several in a row count as one); entries of another version, without a comma, or
/// whose base64 does not decode to 32 bytes are skipped.
pub fn v1_signatures(header: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    header
        .split(' ')
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, encoded)| {
            // A 32-byte MAC is 44 base64 characters: anything longer is not one, undecoded.
            (encoded.len() == 44)
                .then(|| STANDARD.decode(encoded).ok())
                .flatten()
        })
        .filter(|decoded| decoded.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        // The example secret of the Standard Webhooks specification.
        WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    #[test]
    fn the_specification_example_signs_as_published() {
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&secret(), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verify_accepts_its_own_and_rotated_signatures() {
        let other = WebhookSecret::generate().unwrap();
        let now = Timestamp::from_unix_secs(1614265330);
        let header = format!(
            "v1,bm9wZQ== {} v2,xyz",
            sign(&secret(), "msg_1", 1614265330, b"{}")
        );
        let verifier = Verifier::new(other.clone()).with_secret(secret());
        assert_eq!(
            verifier.verify("msg_1", "1614265330", &header, b"{}", now),
            Ok(())
        );
        assert_eq!(
            Verifier::new(other).verify("msg_1", "1614265330", &header, b"{}", now),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn the_tolerance_holds_both_ways_at_its_edges() {
        let verifier = Verifier::new(secret());
        let header = sign(&secret(), "m", 1_000_000, b"x");
        for (now, ok) in [
            (1_000_300, true),
            (1_000_301, false),
            (999_700, true),
            (999_699, false),
        ] {
            let result = verifier.verify(
                "m",
                "1000000",
                &header,
                b"x",
                Timestamp::from_unix_secs(now),
            );
            assert_eq!(result.is_ok(), ok, "now {now}: {result:?}");
        }
    }

    #[test]
    fn secrets_parse_padded_or_not_and_compare_equal() {
        let padded =
            WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let unpadded =
            WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
        assert_eq!(padded, unpadded);
        assert_ne!(padded, secret());
    }

    #[test]
    fn timestamps_are_plain_digits() {
        for bad in ["", "-1", "+1", "1e10", " 1", "99999999999999999999", "１２"] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert_eq!(parse_timestamp("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_timestamp("9223372036854775808"), None);
    }
}
