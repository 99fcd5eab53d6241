//! Signatures: unknown versions skipped, another message's or a cut signature refused, ids out of
//! range, and rotation over several secrets.

use super::*;

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
