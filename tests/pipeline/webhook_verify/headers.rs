//! Signature headers: empty, malformed and oversized entry lists, the exact length limit, and
//! unreadable, missing and repeated headers.

use super::*;

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
