//! `whsec_` secrets: each malformed one refused with its own error, and `Debug` that never shows
//! one.

use super::*;

#[test]
fn malformed_secrets_give_the_right_error() {
    let encode = |n: usize| format!("whsec_{}", STANDARD.encode(vec![0xa5; n]));
    for (text, expected) in [
        (
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            SecretError::MissingPrefix,
        ),
        ("".to_owned(), SecretError::MissingPrefix),
        ("whsec".to_owned(), SecretError::MissingPrefix),
        (
            "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            SecretError::MissingPrefix,
        ),
        (
            "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            SecretError::MissingPrefix,
        ),
        (
            "whsec_!!!!not base64!!!!".to_owned(),
            SecretError::NotBase64,
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS".to_owned(),
            SecretError::NotBase64,
        ),
        (
            "whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw".to_owned(),
            SecretError::NotBase64,
        ),
        (
            "whsec_MfKQ9r8GKYqr-wjUPD8ILPZIo2LaLaSw".to_owned(),
            SecretError::NotBase64,
        ),
        ("whsec_é".to_owned(), SecretError::NotBase64),
        ("whsec_".to_owned(), SecretError::BadLength),
        (encode(1), SecretError::BadLength),
        (encode(23), SecretError::BadLength),
        (encode(65), SecretError::BadLength),
        (encode(66), SecretError::BadLength),
        (encode(67), SecretError::BadLength),
        (encode(1024), SecretError::BadLength),
        (
            format!("whsec_{}", "A".repeat(1 << 20)),
            SecretError::BadLength,
        ),
    ] {
        let shown: String = text.chars().take(40).collect();
        assert_eq!(WebhookSecret::parse(&text), Err(expected), "{shown:?}");
    }
    for n in [24, 32, 33, 64] {
        let text = encode(n);
        let parsed = WebhookSecret::parse(&text).unwrap();
        assert_eq!(parsed.expose(), text);
    }
    assert_eq!(
        WebhookSecret::parse(SPEC_SECRET).unwrap().expose(),
        SPEC_SECRET
    );
    // Surrounding whitespace (a trailing newline from a file) is forgiven.
    assert_eq!(
        WebhookSecret::parse(&format!(" {SPEC_SECRET}\n")),
        Ok(secret())
    );
    assert_eq!(
        WebhookSecret::from_bytes(vec![0; 23]),
        Err(SecretError::BadLength)
    );
    assert_eq!(
        WebhookSecret::from_bytes(vec![0; 65]),
        Err(SecretError::BadLength)
    );
    assert!(WebhookSecret::from_bytes(vec![0; 24]).is_ok());
    assert!(WebhookSecret::from_bytes(vec![0; 64]).is_ok());
}

#[test]
fn debug_never_shows_a_secret() {
    let generated = WebhookSecret::generate().unwrap();
    let fixed = WebhookSecret::from_bytes((b'a'..=b'z').chain(b'A'..=b'F').collect()).unwrap();
    for secret in [secret(), generated, fixed] {
        let exposed = secret.expose();
        let encoded = exposed.strip_prefix("whsec_").unwrap().to_owned();
        let raw = STANDARD.decode(&encoded).unwrap();
        let verifier = Verifier::new(secret.clone())
            .with_secret(WebhookSecret::generate().unwrap())
            .with_tolerance_secs(60);
        for debug in [
            format!("{secret:?}"),
            format!("{secret:#?}"),
            format!("{verifier:?}"),
            format!("{verifier:#?}"),
        ] {
            assert!(!debug.contains(&exposed), "{debug}");
            assert!(!debug.contains(&encoded), "{debug}");
            // Neither the raw bytes as a list, nor as text, nor as hex.
            assert!(!debug.contains(&format!("{raw:?}")), "{debug}");
            assert!(!debug.contains(&String::from_utf8_lossy(&raw[..8]).into_owned()));
            let hex: String = raw[..8].iter().map(|b| format!("{b:02x}")).collect();
            assert!(!debug.contains(&hex), "{debug}");
        }
        assert!(format!("{verifier:?}").contains("redacted"));
    }
}
