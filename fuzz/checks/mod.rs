//! The properties each fuzz target checks. Shared by the cargo-fuzz targets in `fuzz_targets/`
//! and by `tests/fuzz_corpus.rs`, which replays the committed corpus in every test run.

use std::net::IpAddr;

use memorysync_pipeline::TrustedProxies;
use memorysync_pipeline::client_ip::client_ip as resolve_client_ip;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use sha2::{Digest, Sha256};

/// Parsing any bytes as a key never panics; a key that parses is exactly those bytes, and its
/// hash is their SHA-256.
pub fn api_key_parse(data: &[u8]) {
    if let Ok(key) = ApiKey::parse_bytes(data) {
        assert_eq!(key.expose_secret().as_bytes(), data);
        let digest: [u8; 32] = Sha256::digest(data).into();
        assert_eq!(key.hash().as_bytes(), &digest);
        assert!(!format!("{key:?}").contains("msk_"));
    }
}

/// Any text either loads or fails with a line number inside the text, and an error message
/// never repeats a key found in the text.
pub fn config_from_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = Config::from_toml(text) {
        if let Some(line) = error.line() {
            assert!(
                line >= 1 && line <= text.lines().count().max(1) + 1,
                "line {line} out of range"
            );
        }
        let message = error.to_string();
        for word in text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
            if ApiKey::parse(word).is_ok() {
                assert!(!message.contains(word), "the error repeats a key");
            }
        }
    }
}

/// Any `X-Forwarded-For` lines from a trusted peer resolve to some address; never a panic.
pub fn client_ip(data: &[u8]) {
    let peer: IpAddr = [10, 0, 0, 1].into();
    let trusted = TrustedProxies::new(["10.0.0.0/8".parse().expect("a valid CIDR")]);
    let mut headers = http::HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append("x-forwarded-for", value);
        }
    }
    // The result is not checked against a second parser of the header: that would restate
    // the code. What must hold is that a peer always gives an answer, without a panic.
    assert!(resolve_client_ip(&headers, Some(peer), &trusted).is_some());
}
