//! Interop with the reference Python implementation, the `standardwebhooks` package from PyPI:
//! what `signed_headers` produces, `Webhook(secret).verify` accepts (and refuses once tampered
//! with), and what `Webhook(secret).sign` produces, our `Verifier` accepts (and refuses once
//! tampered with). Cases: a JSON body, an empty body, non-ASCII UTF-8, non-UTF-8 bytes, two
//! secrets during a rotation, secrets of 24 to 64 bytes.
//!
//! The package is installed with pip under `CARGO_TARGET_TMPDIR` on first use. Without
//! `python3` or pip (or the package index), each test prints a line saying it skipped and
//! passes — unless `MEMORYSYNC_REQUIRE_PYTHON=1`, as in `.ci/run`, where that is a failure.
//!
//! Its `verify` reads the wall clock, so messages for it are signed at the current second;
//! nothing sleeps.

use crate::common::standardwebhooks::{python, sign_request, verify_request};

use memorysync_pipeline::clock::{Clock, SystemClock, Timestamp};
use memorysync_pipeline::webhook::{
    Verifier, VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, WebhookSecret, sign,
    signed_headers,
};
use serde_json::Value;

/// The example secret of the Standard Webhooks specification.
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn now_secs() -> i64 {
    SystemClock.now().unix_millis().div_euclid(1000)
}

fn secret_of(len: usize, seed: u8) -> WebhookSecret {
    WebhookSecret::from_bytes(
        (0..len)
            .map(|i| seed.wrapping_add((i as u8).wrapping_mul(37)))
            .collect(),
    )
    .unwrap()
}

/// The same header list with one header's value replaced.
fn with_header(
    headers: &[(&'static str, String)],
    name: &str,
    value: String,
) -> Vec<(&'static str, String)> {
    headers
        .iter()
        .map(|(n, v)| (*n, if *n == name { value.clone() } else { v.clone() }))
        .collect()
}

fn header<'a>(headers: &'a [(&str, String)], name: &str) -> &'a str {
    &headers.iter().find(|(n, _)| *n == name).unwrap().1
}

const JSON_BODY: &[u8] = concat!(
    r#"{"type":"quota.threshold","timestamp":"2027-01-15T08:00:00Z","#,
    r#""data":{"project":"proj_demo","used":80,"limit":100}}"#
)
.as_bytes();
const UTF8_BODY: &str = "héllo wörld — €😀 \u{0}\t\r\n\"quotes\" and \\ backslash. dots.";

#[test]
fn standardwebhooks_verifies_our_signed_headers() {
    let Some(python) = python() else { return };
    let now = now_secs();
    let spec = WebhookSecret::parse(SPEC_SECRET).unwrap();
    let (old, new) = (secret_of(32, 1), secret_of(32, 2));
    let long_id = "m".repeat(256);
    let case =
        |what, signers: &[&WebhookSecret], checker: &WebhookSecret, id: &str, body: &[u8]| {
            let signers: Vec<WebhookSecret> = signers.iter().map(|s| (*s).clone()).collect();
            let headers = signed_headers(&signers, id, now, body);
            (what, verify_request(checker, &headers, body), body.to_vec())
        };
    let (short, wide) = (secret_of(24, 9), secret_of(64, 8));
    let cases: Vec<(&str, Value, Vec<u8>)> = vec![
        case("a JSON body", &[&spec], &spec, "msg_1", JSON_BODY),
        case("an empty body", &[&spec], &spec, "msg_2", b""),
        case(
            "non-ASCII UTF-8",
            &[&spec],
            &spec,
            "msg_3",
            UTF8_BODY.as_bytes(),
        ),
        case("a 24-byte secret", &[&short], &short, "msg_4", JSON_BODY),
        case("a 64-byte secret", &[&wide], &wide, "msg_5", JSON_BODY),
        case("a 256-byte id", &[&spec], &spec, &long_id, b"{}"),
        case(
            "rotation, old secret",
            &[&old, &new],
            &old,
            "msg_6",
            JSON_BODY,
        ),
        case(
            "rotation, new secret",
            &[&old, &new],
            &new,
            "msg_6",
            JSON_BODY,
        ),
        case("rotation, empty body", &[&old, &new], &new, "msg_7", b""),
    ];
    let requests: Vec<Value> = cases
        .iter()
        .map(|(_, request, _)| request.clone())
        .collect();
    let results = python.run(&requests);
    for ((what, _, body), result) in cases.iter().zip(&results) {
        assert_eq!(result["ok"], true, "{what}: {result}");
        if let Ok(parsed) = serde_json::from_slice::<Value>(body) {
            assert_eq!(result["parsed"], parsed, "{what}: parsed body");
        }
    }
    // A rotation header has both signatures, space-separated.
    let rotation = signed_headers(&[old, new], "msg_6", now, JSON_BODY);
    assert_eq!(header(&rotation, WEBHOOK_SIGNATURE).split(' ').count(), 2);
}

#[test]
fn standardwebhooks_refuses_our_headers_once_tampered_with() {
    let Some(python) = python() else { return };
    let now = now_secs();
    let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
    let (old, new) = (secret_of(32, 1), secret_of(32, 2));
    let good = signed_headers(std::slice::from_ref(&secret), "msg_1", now, JSON_BODY);
    let mut flipped = JSON_BODY.to_vec();
    flipped[10] ^= 0x01;
    let signature = header(&good, WEBHOOK_SIGNATURE);
    let bad_signature = format!(
        "v1,{}{}",
        if &signature[3..4] == "A" { "B" } else { "A" },
        &signature[4..]
    );
    let cases: Vec<(&str, Value)> = vec![
        (
            "one body byte flipped",
            verify_request(&secret, &good, &flipped),
        ),
        (
            "the body cut short",
            verify_request(&secret, &good, &JSON_BODY[..JSON_BODY.len() - 1]),
        ),
        ("an empty body instead", verify_request(&secret, &good, b"")),
        (
            "another id",
            verify_request(
                &secret,
                &with_header(&good, WEBHOOK_ID, "msg_2".into()),
                JSON_BODY,
            ),
        ),
        (
            "another timestamp",
            verify_request(
                &secret,
                &with_header(&good, WEBHOOK_TIMESTAMP, (now - 1).to_string()),
                JSON_BODY,
            ),
        ),
        (
            "a changed signature",
            verify_request(
                &secret,
                &with_header(&good, WEBHOOK_SIGNATURE, bad_signature),
                JSON_BODY,
            ),
        ),
        (
            "another secret",
            verify_request(&secret_of(32, 3), &good, JSON_BODY),
        ),
        (
            "a rotation header checked with a third secret",
            verify_request(
                &secret_of(32, 3),
                &signed_headers(&[old, new], "msg_1", now, JSON_BODY),
                JSON_BODY,
            ),
        ),
        (
            "an empty body, tampered",
            verify_request(
                &secret,
                &signed_headers(std::slice::from_ref(&secret), "msg_3", now, b""),
                b" ",
            ),
        ),
        (
            "signed an hour ago",
            verify_request(
                &secret,
                &signed_headers(
                    std::slice::from_ref(&secret),
                    "msg_4",
                    now - 3600,
                    JSON_BODY,
                ),
                JSON_BODY,
            ),
        ),
        (
            "signed for an hour from now",
            verify_request(
                &secret,
                &signed_headers(
                    std::slice::from_ref(&secret),
                    "msg_5",
                    now + 3600,
                    JSON_BODY,
                ),
                JSON_BODY,
            ),
        ),
    ];
    let requests: Vec<Value> = cases.iter().map(|(_, request)| request.clone()).collect();
    let results = python.run(&requests);
    for ((what, _), result) in cases.iter().zip(&results) {
        assert_eq!(result["ok"], false, "{what}: accepted");
        assert_eq!(
            result["error"], "WebhookVerificationError",
            "{what}: {result}"
        );
        // Refused for the right reason: time for the stale ones, the signature otherwise.
        let reason = match *what {
            "signed an hour ago" => "too old",
            "signed for an hour from now" => "too new",
            _ => "no matching signature",
        };
        let message = result["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains(reason), "{what}: {result}");
    }
}

/// Its `verify` takes bytes but decodes them as UTF-8 first, and its `sign` takes text: a
/// non-UTF-8 body cannot be checked by that package at all. Ours signs and verifies any bytes;
/// this pins that the package fails on decoding, not on our signature.
#[test]
fn non_utf8_bodies_verify_here_and_fail_to_decode_in_standardwebhooks() {
    let Some(python) = python() else { return };
    let now = now_secs();
    let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
    let bodies: [&[u8]; 3] = [
        &[0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xa0, 0xa1],
        &[0x80],
        b"{\"ok\":\"\xe2\x82\"}",
    ];
    let mut requests = Vec::new();
    for body in bodies {
        let headers = signed_headers(std::slice::from_ref(&secret), "msg_bytes", now, body);
        let verifier = Verifier::new(secret.clone());
        let at = Timestamp::from_unix_secs(now);
        let (id, ts, sig) = (
            header(&headers, WEBHOOK_ID),
            header(&headers, WEBHOOK_TIMESTAMP),
            header(&headers, WEBHOOK_SIGNATURE),
        );
        assert_eq!(verifier.verify(id, ts, sig, body, at), Ok(()));
        let mut tampered = body.to_vec();
        tampered[0] ^= 0x40;
        assert_eq!(
            verifier.verify(id, ts, sig, &tampered, at),
            Err(VerifyError::NoMatchingSignature)
        );
        requests.push(verify_request(&secret, &headers, body));
        requests.push(sign_request(&secret, "msg_bytes", now, body));
    }
    for result in python.run(&requests) {
        // Accepting would be fine too (a later version might take bytes); refusing the
        // signature would not.
        if result["ok"] == true {
            continue;
        }
        assert_eq!(result["error"], "UnicodeDecodeError", "{result}");
    }
}

#[test]
fn our_verifier_accepts_what_standardwebhooks_signs() {
    let Some(python) = python() else { return };
    let spec = WebhookSecret::parse(SPEC_SECRET).unwrap();
    let (old, new) = (secret_of(32, 1), secret_of(32, 2));
    let ts = 1_800_000_000;
    let utf8 = UTF8_BODY.as_bytes();
    let cases: Vec<(&str, WebhookSecret, &str, i64, &[u8])> = vec![
        (
            "the specification's example",
            spec.clone(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        ),
        ("a JSON body", spec.clone(), "msg_1", ts, JSON_BODY),
        ("an empty body", spec.clone(), "msg_2", ts, b""),
        ("non-ASCII UTF-8", spec.clone(), "msg_3", ts, utf8),
        ("a 24-byte secret", secret_of(24, 9), "msg_4", ts, JSON_BODY),
        ("a 64-byte secret", secret_of(64, 8), "msg_5", ts, JSON_BODY),
        ("the epoch", spec.clone(), "msg_6", 0, b"{}"),
        ("rotation, old", old.clone(), "msg_7", ts, JSON_BODY),
        ("rotation, new", new.clone(), "msg_7", ts, JSON_BODY),
    ];
    let requests: Vec<Value> = cases
        .iter()
        .map(|(_, secret, id, at, body)| sign_request(secret, id, *at, body))
        .collect();
    let results = python.run(&requests);
    let mut signatures = Vec::new();
    for ((what, secret, id, at, body), result) in cases.iter().zip(&results) {
        assert_eq!(result["ok"], true, "{what}: {result}");
        let signature = result["signature"].as_str().unwrap().to_owned();
        // Byte for byte what we would have sent.
        assert_eq!(signature, sign(secret, id, *at, body), "{what}");
        for skew in [-300, 0, 300] {
            assert_eq!(
                Verifier::new(secret.clone()).verify(
                    id,
                    &at.to_string(),
                    &signature,
                    body,
                    Timestamp::from_unix_secs(at + skew)
                ),
                Ok(()),
                "{what}, clock {skew:+} s"
            );
        }
        signatures.push(signature);
    }
    assert_eq!(
        signatures[0],
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );

    // Both rotation signatures in one header, as a sender mid-rotation sends them.
    let header = format!("{} {}", signatures[7], signatures[8]);
    let now = Timestamp::from_unix_secs(ts);
    for verifier in [
        Verifier::new(old.clone()),
        Verifier::new(new.clone()),
        Verifier::new(secret_of(32, 3)).with_secret(new.clone()),
    ] {
        assert_eq!(
            verifier.verify("msg_7", &ts.to_string(), &header, JSON_BODY, now),
            Ok(())
        );
    }
    assert_eq!(
        Verifier::new(secret_of(32, 3)).verify("msg_7", &ts.to_string(), &header, JSON_BODY, now),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn our_verifier_refuses_what_standardwebhooks_signs_once_tampered_with() {
    let Some(python) = python() else { return };
    let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
    let ts: i64 = 1_800_000_000;
    let requests = [
        sign_request(&secret, "msg_1", ts, JSON_BODY),
        sign_request(&secret, "msg_2", ts, b""),
        sign_request(&secret_of(32, 3), "msg_1", ts, JSON_BODY),
    ];
    let results = python.run(&requests);
    let signature = |i: usize| results[i]["signature"].as_str().unwrap().to_owned();
    let (json_sig, empty_sig, other_secret_sig) = (signature(0), signature(1), signature(2));
    let verifier = Verifier::new(secret);
    let now = Timestamp::from_unix_secs(ts);
    let ts_text = ts.to_string();
    assert_eq!(
        verifier.verify("msg_1", &ts_text, &json_sig, JSON_BODY, now),
        Ok(())
    );
    assert_eq!(
        verifier.verify("msg_2", &ts_text, &empty_sig, b"", now),
        Ok(())
    );

    let mut flipped = JSON_BODY.to_vec();
    flipped[10] ^= 0x01;
    let changed_sig = format!(
        "v1,{}{}",
        if &json_sig[3..4] == "A" { "B" } else { "A" },
        &json_sig[4..]
    );
    let cases: [(&str, &str, &str, &str, &[u8]); 8] = [
        (
            "one body byte flipped",
            "msg_1",
            &ts_text,
            &json_sig,
            &flipped,
        ),
        (
            "the body cut short",
            "msg_1",
            &ts_text,
            &json_sig,
            &JSON_BODY[..JSON_BODY.len() - 1],
        ),
        (
            "an empty body, tampered",
            "msg_2",
            &ts_text,
            &empty_sig,
            b" ",
        ),
        ("another id", "msg_2", &ts_text, &json_sig, JSON_BODY),
        (
            "another timestamp",
            "msg_1",
            "1800000001",
            &json_sig,
            JSON_BODY,
        ),
        (
            "a changed signature",
            "msg_1",
            &ts_text,
            &changed_sig,
            JSON_BODY,
        ),
        (
            "the signature cut short",
            "msg_1",
            &ts_text,
            &json_sig[..json_sig.len() - 2],
            JSON_BODY,
        ),
        (
            "another secret",
            "msg_1",
            &ts_text,
            &other_secret_sig,
            JSON_BODY,
        ),
    ];
    for (what, id, at, signature, body) in cases {
        assert_eq!(
            verifier.verify(id, at, signature, body, now),
            Err(VerifyError::NoMatchingSignature),
            "{what}"
        );
    }
    // Right signature, stale clock: refused for time, not for the signature.
    assert_eq!(
        verifier.verify(
            "msg_1",
            &ts_text,
            &json_sig,
            JSON_BODY,
            Timestamp::from_unix_secs(ts + 301)
        ),
        Err(VerifyError::OutsideTolerance)
    );
}
