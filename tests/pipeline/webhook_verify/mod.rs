//! The webhook `Verifier` and `WebhookSecret` against bad input: malformed and oversized
//! signature headers, unreadable and repeated headers, hostile timestamps at both ends of the
//! clock, the tolerance edges, ids out of range, malformed `whsec_` secrets, and `Debug` output
//! that must never show a secret. Every refusal is checked for its exact `VerifyError` or
//! `SecretError`; none may panic.

mod headers;
mod secrets;
mod signatures;
mod timestamps;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::webhook::{
    MAX_ID_LEN, MAX_SIGNATURE_HEADER, SecretError, Verifier, VerifyError, WEBHOOK_ID,
    WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, WebhookSecret, parse_timestamp, sign, signed_headers,
};

/// The example secret of the Standard Webhooks specification.
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;

fn secret() -> WebhookSecret {
    WebhookSecret::parse(SPEC_SECRET).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new(secret())
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

/// The valid signature of (ID, TS, BODY).
fn valid() -> String {
    sign(&secret(), ID, TS, BODY)
}

/// A well-formed `v1` entry that matches nothing: 32 bytes, not the MAC.
fn junk_entry(n: u8) -> String {
    format!("v1,{}", STANDARD.encode([n; 32]))
}

fn verify_header(header: &str) -> Result<(), VerifyError> {
    verifier().verify(ID, &TS.to_string(), header, BODY, at(TS))
}

fn header_map(id: &[u8], ts: &[u8], sig: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(WEBHOOK_ID, HeaderValue::from_bytes(id).unwrap());
    map.insert(WEBHOOK_TIMESTAMP, HeaderValue::from_bytes(ts).unwrap());
    map.insert(WEBHOOK_SIGNATURE, HeaderValue::from_bytes(sig).unwrap());
    map
}
