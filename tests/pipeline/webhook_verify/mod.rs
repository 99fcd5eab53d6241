//! The webhook `Verifier` and `WebhookSecret` against bad input: malformed and oversized
//! signature headers, unreadable and repeated headers, hostile timestamps at both ends of the
//! clock, the tolerance edges, ids out of range, malformed `whsec_` secrets, and `Debug` output
//! that must never show a secret. Every refusal is checked for its exact `VerifyError` or
//! `SecretError`; none may panic.

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

#[test]
fn the_valid_signature_verifies_as_text_and_as_headers() {
    assert_eq!(valid(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert_eq!(verify_header(&valid()), Ok(()));
    let headers = signed_headers(&[secret()], ID, TS, BODY);
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    assert_eq!(verifier().verify_headers(&map, BODY, at(TS)), Ok(()));
}

#[test]
fn an_empty_signature_header_matches_nothing() {
    assert_eq!(verify_header(""), Err(VerifyError::NoMatchingSignature));
    assert_eq!(verify_header(" "), Err(VerifyError::NoMatchingSignature));
    assert_eq!(verify_header("   "), Err(VerifyError::NoMatchingSignature));
}

#[test]
fn v1_comma_alone_matches_nothing() {
    assert_eq!(verify_header("v1,"), Err(VerifyError::NoMatchingSignature));
    assert_eq!(verify_header("v1"), Err(VerifyError::NoMatchingSignature));
    assert_eq!(verify_header(","), Err(VerifyError::NoMatchingSignature));
    assert_eq!(
        verify_header("v1, v1,, ,v1"),
        Err(VerifyError::NoMatchingSignature)
    );
    // ...and does not hide a valid entry next to it.
    assert_eq!(verify_header(&format!("v1, {}", valid())), Ok(()));
}

#[test]
fn double_spaces_between_valid_entries_still_verify() {
    let junk = junk_entry(1);
    let valid = valid();
    for header in [
        format!("{junk}  {valid}"),
        format!("{valid}  {junk}"),
        format!("  {junk}    {valid}  "),
        format!("{valid}  {valid}"),
    ] {
        assert_eq!(verify_header(&header), Ok(()), "{header:?}");
    }
}

#[test]
fn ten_thousand_entries_are_refused_as_too_long() {
    let mut entries: Vec<String> = (0..9_999).map(|i| junk_entry((i % 251) as u8)).collect();
    entries.push(valid());
    let header = entries.join(" ");
    assert!(header.len() > MAX_SIGNATURE_HEADER);
    assert_eq!(verify_header(&header), Err(VerifyError::HeaderTooLong));
}

#[test]
fn about_150_junk_entries_then_the_valid_one_verify_within_the_limit() {
    let mut entries: Vec<String> = (0..150).map(|i| junk_entry(i as u8)).collect();
    // Other shapes of junk too: unknown versions, short base64, no comma.
    entries.extend(["v2,abc".into(), "v1,bm9wZQ==".into(), "nocomma".into()]);
    entries.push(valid());
    let header = entries.join(" ");
    assert!(
        header.len() <= MAX_SIGNATURE_HEADER,
        "{} bytes",
        header.len()
    );
    assert_eq!(verify_header(&header), Ok(()));
}

#[test]
fn the_header_limit_is_exact() {
    let valid = valid();
    // Spaces pad the header without adding entries.
    let at_limit = format!("{valid}{}", " ".repeat(MAX_SIGNATURE_HEADER - valid.len()));
    assert_eq!(at_limit.len(), MAX_SIGNATURE_HEADER);
    assert_eq!(verify_header(&at_limit), Ok(()));
    let over = format!("{at_limit} ");
    assert_eq!(verify_header(&over), Err(VerifyError::HeaderTooLong));
}

#[test]
fn a_one_mebibyte_header_is_too_long() {
    let mut header = valid();
    header.push(' ');
    header.push_str(&"A".repeat(1024 * 1024));
    assert_eq!(verify_header(&header), Err(VerifyError::HeaderTooLong));
    let entries = format!("{} ", junk_entry(7)).repeat(1024 * 1024 / 48);
    assert_eq!(verify_header(&entries), Err(VerifyError::HeaderTooLong));
    // Through a header map as well.
    let map = header_map(ID.as_bytes(), TS.to_string().as_bytes(), header.as_bytes());
    assert_eq!(
        verifier().verify_headers(&map, BODY, at(TS)),
        Err(VerifyError::HeaderTooLong)
    );
}

#[test]
fn non_ascii_header_bytes_are_a_missing_header() {
    let ts = TS.to_string();
    let valid = valid();
    for byte in [0x80u8, 0xa0, 0xc3, 0xe9, 0xff] {
        let mut id = ID.as_bytes().to_vec();
        id.push(byte);
        let mut bad_ts = ts.as_bytes().to_vec();
        bad_ts.insert(0, byte);
        let mut sig = valid.as_bytes().to_vec();
        sig.extend([b' ', byte, byte]);
        for (map, name) in [
            (header_map(&id, ts.as_bytes(), valid.as_bytes()), WEBHOOK_ID),
            (
                header_map(ID.as_bytes(), &bad_ts, valid.as_bytes()),
                WEBHOOK_TIMESTAMP,
            ),
            (
                header_map(ID.as_bytes(), ts.as_bytes(), &sig),
                WEBHOOK_SIGNATURE,
            ),
        ] {
            assert_eq!(
                verifier().verify_headers(&map, BODY, at(TS)),
                Err(VerifyError::MissingHeader(name)),
                "byte {byte:#x} in {name}"
            );
        }
    }
    // UTF-8 is not ASCII either: "é" in the id.
    let map = header_map("msg_é".as_bytes(), ts.as_bytes(), valid.as_bytes());
    assert_eq!(
        verifier().verify_headers(&map, BODY, at(TS)),
        Err(VerifyError::MissingHeader(WEBHOOK_ID))
    );
}

#[test]
fn missing_and_repeated_headers_are_a_missing_header() {
    let ts = TS.to_string();
    let valid = valid();
    for name in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
        let mut map = header_map(ID.as_bytes(), ts.as_bytes(), valid.as_bytes());
        map.remove(name);
        assert_eq!(
            verifier().verify_headers(&map, BODY, at(TS)),
            Err(VerifyError::MissingHeader(name)),
            "{name} missing"
        );

        let mut map = header_map(ID.as_bytes(), ts.as_bytes(), valid.as_bytes());
        let again = map.get(name).unwrap().clone();
        map.append(name, again);
        assert_eq!(
            verifier().verify_headers(&map, BODY, at(TS)),
            Err(VerifyError::MissingHeader(name)),
            "{name} twice"
        );
    }
    // Two different ids, the signed one first.
    let mut map = header_map(ID.as_bytes(), ts.as_bytes(), valid.as_bytes());
    map.append(WEBHOOK_ID, HeaderValue::from_static("msg_other"));
    assert_eq!(
        verifier().verify_headers(&map, BODY, at(TS)),
        Err(VerifyError::MissingHeader(WEBHOOK_ID))
    );
    // Header names are case-insensitive: an upper-case name is the same header.
    let mut map = HeaderMap::new();
    map.insert("Webhook-Id", HeaderValue::from_static(ID));
    map.insert("WEBHOOK-TIMESTAMP", HeaderValue::from_str(&ts).unwrap());
    map.insert("Webhook-Signature", HeaderValue::from_str(&valid).unwrap());
    assert_eq!(verifier().verify_headers(&map, BODY, at(TS)), Ok(()));
}

#[test]
fn malformed_timestamps_are_bad_timestamps() {
    for bad in [
        "-1",
        "1e10",
        "99999999999999999999",
        "9223372036854775808",
        "",
        " 1614265330",
        "1614265330 ",
        "+1614265330",
        "1614265330.0",
        "0x60",
        "１６１４２６５３３０",
    ] {
        for now in [
            at(TS),
            Timestamp::EPOCH,
            Timestamp::from_unix_millis(i64::MAX),
        ] {
            assert_eq!(
                verifier().verify(ID, bad, &valid(), BODY, now),
                Err(VerifyError::BadTimestamp),
                "{bad:?} at {now:?}"
            );
        }
    }
}

#[test]
fn extreme_timestamps_and_clocks_do_not_overflow() {
    let max = i64::MAX.to_string();
    assert_eq!(parse_timestamp(&max), Some(i64::MAX));
    let clocks = [
        Timestamp::from_unix_millis(i64::MIN),
        Timestamp::from_unix_millis(-1),
        Timestamp::EPOCH,
        Timestamp::from_unix_millis(1),
        at(TS),
        Timestamp::from_unix_secs(i64::MAX),
        Timestamp::from_unix_millis(i64::MAX),
    ];

    // i64::MAX seconds is later than any millisecond clock can read.
    let signed_max = sign(&secret(), ID, i64::MAX, BODY);
    for now in clocks {
        assert_eq!(
            verifier().verify(ID, &max, &signed_max, BODY, now),
            Err(VerifyError::OutsideTolerance),
            "now {now:?}"
        );
    }
    // An unbounded tolerance takes even that, and the signature over it is right.
    assert_eq!(
        verifier().with_tolerance_secs(u64::MAX).verify(
            ID,
            &max,
            &signed_max,
            BODY,
            Timestamp::from_unix_millis(i64::MIN)
        ),
        Ok(())
    );

    // The latest second the clock can read, near the clock's end.
    let last = i64::MAX / 1000;
    let signed_last = sign(&secret(), ID, last, BODY);
    assert_eq!(
        verifier().verify(
            ID,
            &last.to_string(),
            &signed_last,
            BODY,
            Timestamp::from_unix_millis(i64::MAX)
        ),
        Ok(())
    );
    assert_eq!(
        verifier().verify(ID, &last.to_string(), &signed_last, BODY, at(TS)),
        Err(VerifyError::OutsideTolerance)
    );

    // Zero, near the epoch and far from it.
    let signed_zero = sign(&secret(), ID, 0, BODY);
    for (now, expected) in [
        (Timestamp::EPOCH, Ok(())),
        (Timestamp::from_unix_millis(-1), Ok(())),
        (at(-300), Ok(())),
        (at(300), Ok(())),
        (at(-301), Err(VerifyError::OutsideTolerance)),
        (at(301), Err(VerifyError::OutsideTolerance)),
        (
            Timestamp::from_unix_millis(i64::MIN),
            Err(VerifyError::OutsideTolerance),
        ),
        (
            Timestamp::from_unix_millis(i64::MAX),
            Err(VerifyError::OutsideTolerance),
        ),
    ] {
        assert_eq!(
            verifier().verify(ID, "0", &signed_zero, BODY, now),
            expected,
            "now {now:?}"
        );
    }
}

#[test]
fn the_tolerance_is_300_seconds_each_way_inclusive() {
    let ts = TS.to_string();
    for (offset, expected) in [
        (0, Ok(())),
        (300, Ok(())),
        (-300, Ok(())),
        (301, Err(VerifyError::OutsideTolerance)),
        (-301, Err(VerifyError::OutsideTolerance)),
    ] {
        assert_eq!(
            verifier().verify(ID, &ts, &valid(), BODY, at(TS + offset)),
            expected,
            "now = ts {offset:+} s"
        );
    }
    // A tolerance of 0 takes only the same second.
    let strict = verifier().with_tolerance_secs(0);
    assert_eq!(strict.verify(ID, &ts, &valid(), BODY, at(TS)), Ok(()));
    assert_eq!(
        strict.verify(ID, &ts, &valid(), BODY, at(TS + 1)),
        Err(VerifyError::OutsideTolerance)
    );
    // The tolerance is checked before the signature: a stale message with a wrong signature
    // is refused as stale.
    assert_eq!(
        verifier().verify(ID, &ts, "v1,", BODY, at(TS + 301)),
        Err(VerifyError::OutsideTolerance)
    );
}

#[test]
fn unknown_versions_are_skipped() {
    let encoded = &valid()[3..];
    for header in [
        format!("v2,{encoded}"),
        format!("v0,{encoded}"),
        format!("V1,{encoded}"),
        format!("v1a,{encoded}"),
        format!(" v1,{encoded}x"),
        format!("v1a,{encoded} v2,{encoded}"),
        format!("v1 ,{encoded}"),
        format!("v1,,{encoded}"),
        format!("v1;{encoded}"),
    ] {
        assert_eq!(
            verify_header(&header),
            Err(VerifyError::NoMatchingSignature),
            "{header:?}"
        );
    }
    assert_eq!(verify_header(&format!("v2,{encoded} v1,{encoded}")), Ok(()));
    // A v2 entry with a comma in its payload is skipped whole.
    assert_eq!(verify_header(&format!("v2,a,b {}", valid())), Ok(()));
}

#[test]
fn a_signature_for_another_message_is_rejected() {
    let s = secret();
    let ts = TS.to_string();
    for (header, what) in [
        (sign(&s, "msg_other", TS, BODY), "another id"),
        (sign(&s, ID, TS + 1, BODY), "another timestamp"),
        (sign(&s, ID, TS, b"{}"), "another body"),
        (sign(&s, ID, TS, b""), "an empty body"),
        (
            sign(
                &WebhookSecret::from_bytes(vec![7; 32]).unwrap(),
                ID,
                TS,
                BODY,
            ),
            "another secret",
        ),
    ] {
        assert_eq!(
            verifier().verify(ID, &ts, &header, BODY, at(TS)),
            Err(VerifyError::NoMatchingSignature),
            "signed with {what}"
        );
    }
    // The other way round: the right signature, but the message is not the one signed.
    let valid = valid();
    assert_eq!(
        verifier().verify("msg_other", &ts, &valid, BODY, at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        verifier().verify(ID, &(TS + 1).to_string(), &valid, BODY, at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        verifier().verify(ID, &ts, &valid, b"{\"test\": 2432232315}", at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn a_truncated_or_padded_signature_is_skipped() {
    let valid = valid();
    let truncated = [
        &valid[..valid.len() - 1],
        &valid[..valid.len() - 2],
        &valid[..40],
        &valid[..4],
    ];
    for header in truncated {
        assert_eq!(
            verify_header(header),
            Err(VerifyError::NoMatchingSignature),
            "{header:?}"
        );
        // Skipped, not fatal: the valid entry after it still counts.
        assert_eq!(verify_header(&format!("{header} {valid}")), Ok(()));
    }
    // Base64 without its padding, with extra padding, or in the URL-safe alphabet.
    let encoded = &valid[3..];
    for header in [
        format!("v1,{}", encoded.trim_end_matches('=')),
        format!("v1,{encoded}="),
        format!("v1,{}", encoded.replace('+', "-").replace('/', "_")),
    ] {
        assert_eq!(
            verify_header(&header),
            Err(VerifyError::NoMatchingSignature),
            "{header:?}"
        );
    }
    // 33 bytes of base64 is not a MAC either, even when its first 32 bytes are.
    let mut mac = STANDARD.decode(encoded).unwrap();
    mac.push(0);
    assert_eq!(
        verify_header(&format!("v1,{}", STANDARD.encode(&mac))),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn ids_must_be_1_to_256_bytes() {
    let ts = TS.to_string();
    assert_eq!(
        verifier().verify("", &ts, &valid(), BODY, at(TS)),
        Err(VerifyError::BadId)
    );
    let long = "m".repeat(MAX_ID_LEN + 1);
    assert_eq!(long.len(), 257);
    assert_eq!(
        verifier().verify(&long, &ts, &sign(&secret(), &long, TS, BODY), BODY, at(TS)),
        Err(VerifyError::BadId)
    );
    // 256 bytes is fine; 86 three-byte characters are 258 bytes though only 86 characters.
    let longest = "m".repeat(MAX_ID_LEN);
    assert_eq!(
        verifier().verify(
            &longest,
            &ts,
            &sign(&secret(), &longest, TS, BODY),
            BODY,
            at(TS)
        ),
        Ok(())
    );
    let wide = "€".repeat(86);
    assert_eq!(
        verifier().verify(&wide, &ts, &sign(&secret(), &wide, TS, BODY), BODY, at(TS)),
        Err(VerifyError::BadId)
    );
    // The id is checked first, even when everything else is wrong too.
    assert_eq!(
        verifier().verify("", "-1", &"x".repeat(1 << 20), BODY, at(TS)),
        Err(VerifyError::BadId)
    );
    // Through headers: an empty id header.
    let map = header_map(b"", ts.as_bytes(), valid().as_bytes());
    assert_eq!(
        verifier().verify_headers(&map, BODY, at(TS)),
        Err(VerifyError::BadId)
    );
}

#[test]
fn rotation_accepts_any_configured_secret() {
    let old = secret();
    let new = WebhookSecret::from_bytes((0..32).collect()).unwrap();
    let headers = signed_headers(&[old.clone(), new.clone()], ID, TS, BODY);
    let sig = &headers[2].1;
    assert_eq!(sig.split(' ').count(), 2);
    let ts = TS.to_string();
    for verifier in [
        Verifier::new(old.clone()),
        Verifier::new(new.clone()),
        Verifier::new(new.clone()).with_secret(old.clone()),
    ] {
        assert_eq!(verifier.verify(ID, &ts, sig, BODY, at(TS)), Ok(()));
    }
    // Only the new signature in the header, verifier knows both.
    let only_new = sign(&new, ID, TS, BODY);
    assert_eq!(
        Verifier::new(old.clone())
            .with_secret(new)
            .verify(ID, &ts, &only_new, BODY, at(TS)),
        Ok(())
    );
    assert_eq!(
        Verifier::new(old).verify(ID, &ts, &only_new, BODY, at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

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
