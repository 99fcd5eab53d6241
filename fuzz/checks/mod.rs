//! The properties each fuzz target checks. Shared by the cargo-fuzz targets in `fuzz_targets/`
//! and by `tests/pipeline/fuzz_corpus.rs`, which replays the committed corpus in every test run.

use std::net::IpAddr;

use memorysync_pipeline::TrustedProxies;
use memorysync_pipeline::client_ip::client_ip as resolve_client_ip;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::webhook::{
    MAX_ID_LEN, MAX_SIGNATURE_HEADER, SECRET_PREFIX, SecretError, Verifier, VerifyError,
    WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, WebhookSecret, parse_timestamp, sign,
    signed_headers, v1_signatures,
};
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

/// The secret, message and clock the webhook header check verifies against.
const HEADER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HEADER_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const HEADER_TIMESTAMP: i64 = 1_614_265_330;
const HEADER_BODY: &[u8] = br#"{"test": 2432232314}"#;

/// Any `webhook-signature` text: the parser never panics and yields only 32-byte MACs; the
/// verifier answers `Ok` only when the header holds the right signature as one entry, refuses a
/// header over the limit before reading it, and never loses a valid entry next to garbage.
pub fn webhook_signature_header(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let entries = header.split(' ').filter(|e| !e.is_empty()).count();
    let mut decoded = 0;
    for mac in v1_signatures(&header) {
        assert_eq!(mac.len(), 32);
        decoded += 1;
    }
    assert!(decoded <= entries, "{decoded} MACs from {entries} entries");

    let secret = WebhookSecret::parse(HEADER_SECRET).expect("the specification's secret");
    let valid = sign(&secret, HEADER_ID, HEADER_TIMESTAMP, HEADER_BODY);
    let verifier = Verifier::new(secret);
    let now = Timestamp::from_unix_secs(HEADER_TIMESTAMP);
    let verify = |header: &str| {
        verifier.verify(
            HEADER_ID,
            &HEADER_TIMESTAMP.to_string(),
            header,
            HEADER_BODY,
            now,
        )
    };

    let result = verify(&header);
    if header.len() > MAX_SIGNATURE_HEADER {
        assert_eq!(result, Err(VerifyError::HeaderTooLong));
    } else if result.is_ok() {
        // Canonical base64 decodes one way only, so a match is the exact entry.
        assert!(header.split(' ').any(|e| e == valid), "Ok without {valid}");
    } else {
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    for with_valid in [format!("{header} {valid}"), format!("{valid} {header}")] {
        let expected = if with_valid.len() > MAX_SIGNATURE_HEADER {
            Err(VerifyError::HeaderTooLong)
        } else {
            Ok(())
        };
        assert_eq!(verify(&with_valid), expected);
    }

    // Inputs are short, so build one just over the limit: refused although it holds `valid`.
    let mut long = format!("{valid} {header}");
    let pad = (MAX_SIGNATURE_HEADER + 1).saturating_sub(long.len());
    long.extend(std::iter::repeat_n(' ', pad));
    assert_eq!(verify(&long), Err(VerifyError::HeaderTooLong));

    // The same bytes as a header value: unreadable (not visible ASCII) means MissingHeader,
    // readable means the same answer as above.
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let readable = value.to_str().ok().map(str::to_owned);
        let mut headers = http::HeaderMap::new();
        headers.insert(WEBHOOK_ID, http::HeaderValue::from_static(HEADER_ID));
        headers.insert(WEBHOOK_TIMESTAMP, http::HeaderValue::from(HEADER_TIMESTAMP));
        headers.insert(WEBHOOK_SIGNATURE, value);
        let result = verifier.verify_headers(&headers, HEADER_BODY, now);
        match readable {
            Some(text) => assert_eq!(result, verify(&text)),
            None => assert_eq!(result, Err(VerifyError::MissingHeader(WEBHOOK_SIGNATURE))),
        }
    }
}

/// Reads fixed-size fields off the front of a fuzz input, zeros once it runs out.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        let head = self.take(8);
        bytes[..head.len()].copy_from_slice(head);
        u64::from_le_bytes(bytes)
    }
}

/// Any secret (24 to 64 bytes), id (1 to 256 bytes), timestamp (0 to `i64::MAX`) and body: the
/// headers `signed_headers` makes verify within the tolerance, and changing one body byte,
/// dropping the last one, or another secret makes them fail.
pub fn webhook_round_trip(data: &[u8]) {
    let mut fields = Fields(data);
    let key_len = WebhookSecret::MIN_LEN
        + usize::from(fields.byte()) % (WebhookSecret::MAX_LEN - WebhookSecret::MIN_LEN + 1);
    let mut key = fields.take(key_len).to_vec();
    key.resize(key_len, 0x5a);
    let id_len = usize::from(fields.byte());
    let id = String::from_utf8_lossy(fields.take(id_len)).into_owned();
    let id = if id.is_empty() {
        "msg_1".to_owned()
    } else {
        // A replacement character is three bytes: cut back to 256 bytes on a char boundary.
        let mut end = id.len().min(MAX_ID_LEN);
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        id[..end].to_owned()
    };
    let timestamp = i64::try_from(fields.u64() >> 1).expect("63 bits fit an i64");
    let skew = i64::from(fields.u16() % 601) - 300;
    let flip_at = usize::from(fields.u16());
    let flip_mask = fields.byte().max(1);
    let body = fields.0;

    let secret = WebhookSecret::from_bytes(key.clone()).expect("24 to 64 bytes");
    let headers = signed_headers(std::slice::from_ref(&secret), &id, timestamp, body);
    assert_eq!(headers.len(), 3);
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .expect("all three headers")
    };
    let (hid, hts, hsig) = (
        value(WEBHOOK_ID),
        value(WEBHOOK_TIMESTAMP),
        value(WEBHOOK_SIGNATURE),
    );
    assert_eq!(hid, id);
    assert_eq!(parse_timestamp(hts), Some(timestamp));
    assert_eq!(hsig, sign(&secret, &id, timestamp, body));

    // A clock `skew` seconds off; past the range of a millisecond clock, accept any distance.
    let representable = timestamp <= i64::MAX / 1000 - 300;
    let (verifier, now) = if representable {
        (
            Verifier::new(secret.clone()),
            Timestamp::from_unix_secs(timestamp + skew),
        )
    } else {
        (
            Verifier::new(secret.clone()).with_tolerance_secs(u64::MAX),
            Timestamp::from_unix_millis(i64::MAX),
        )
    };
    assert_eq!(verifier.verify(hid, hts, hsig, body, now), Ok(()));

    if let (Ok(id_value), Ok(sig_value)) = (
        http::HeaderValue::from_str(hid),
        http::HeaderValue::from_str(hsig),
    ) {
        let mut map = http::HeaderMap::new();
        let readable = id_value.to_str().is_ok();
        map.insert(WEBHOOK_ID, id_value);
        map.insert(WEBHOOK_TIMESTAMP, http::HeaderValue::from(timestamp));
        map.insert(WEBHOOK_SIGNATURE, sig_value);
        let expected = if readable {
            Ok(())
        } else {
            Err(VerifyError::MissingHeader(WEBHOOK_ID))
        };
        assert_eq!(verifier.verify_headers(&map, body, now), expected);
    }

    if !body.is_empty() {
        let last = body.len() - 1;
        for at in [0, last, flip_at % body.len()] {
            let mut tampered = body.to_vec();
            tampered[at] ^= flip_mask;
            assert_eq!(
                verifier.verify(hid, hts, hsig, &tampered, now),
                Err(VerifyError::NoMatchingSignature),
                "byte {at} flipped"
            );
        }
        assert_eq!(
            verifier.verify(hid, hts, hsig, &body[..last], now),
            Err(VerifyError::NoMatchingSignature)
        );
    }
    let mut other_key = key;
    let at = flip_at % other_key.len();
    other_key[at] ^= flip_mask;
    let other = Verifier::new(WebhookSecret::from_bytes(other_key).expect("same length"))
        .with_tolerance_secs(u64::MAX);
    assert_eq!(
        other.verify(hid, hts, hsig, body, now),
        Err(VerifyError::NoMatchingSignature)
    );
}

/// Any text: `parse_timestamp` never panics, answers `Some` exactly for 1 to 19 ASCII digits
/// whose value fits an i64, and the number written out parses back to itself and is the text
/// without its leading zeros.
pub fn webhook_timestamp(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = parse_timestamp(&text);
    let digits = !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
    let value = text.bytes().try_fold(0u128, |n, b| {
        let n = n * 10 + u128::from(b.wrapping_sub(b'0'));
        (n <= i64::MAX as u128).then_some(n)
    });
    let expected = match (digits, value) {
        (true, Some(n)) => Some(i64::try_from(n).expect("checked against i64::MAX")),
        _ => None,
    };
    assert_eq!(parsed, expected, "{text:?}");
    if let Some(n) = parsed {
        let written = n.to_string();
        assert_eq!(parse_timestamp(&written), Some(n));
        let stripped = text.trim_start_matches('0');
        assert_eq!(written, if stripped.is_empty() { "0" } else { stripped });
    }
}

/// Any text: `WebhookSecret::parse` never panics; a secret it accepts is the trimmed text
/// written back (canonical, padded base64; unpadded input is accepted too), parses again to an
/// equal secret, and its `Debug` shows none of it.
pub fn whsec_decoding(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match WebhookSecret::parse(&text) {
        Ok(secret) => {
            let exposed = secret.expose();
            let given = text.trim();
            assert!(
                exposed == given || exposed.trim_end_matches('=') == given,
                "{exposed:?} is not {given:?} written back"
            );
            assert_eq!(WebhookSecret::parse(&exposed), Ok(secret.clone()));
            let encoded = &exposed[SECRET_PREFIX.len()..];
            // 24 to 64 bytes are 32 to 88 base64 characters.
            assert!(
                (32..=88).contains(&encoded.len()),
                "{} chars",
                encoded.len()
            );
            let debug = format!("{secret:?} {:?}", Verifier::new(secret.clone()));
            assert!(!debug.contains(encoded), "Debug shows the secret");
        }
        Err(error) => {
            let prefixed = text.trim().starts_with(SECRET_PREFIX);
            assert_eq!(error == SecretError::MissingPrefix, !prefixed, "{error:?}");
        }
    }
}

/// Any text as a webhook URL and any bytes as addresses: the production rules never panic, an
/// accepted production URL is `https://` and, when its host is an address, a global one, and an
/// IPv4-mapped IPv6 address is never global (the registry marks `::ffff:0:0/96` so), whatever
/// the IPv4 address it carries.
pub fn webhook_target(data: &[u8]) {
    use memorysync_pipeline::Environment;
    use memorysync_pipeline::webhook::{check_url, is_global};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    if let Ok(url) = String::from_utf8_lossy(data).parse::<http::Uri>()
        && check_url(&url, Environment::Production).is_ok()
    {
        assert_eq!(url.scheme_str(), Some("https"), "{url}");
        let host = url.host().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            assert!(is_global(ip), "{ip} accepted in production");
        }
    }
    if let Some(bytes) = data.get(..4) {
        let v4 = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
        let _ = is_global(IpAddr::V4(v4));
        assert!(!is_global(IpAddr::V6(v4.to_ipv6_mapped())), "{v4}");
    }
    if let Some(bytes) = data.get(..16) {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(bytes);
        let _ = is_global(IpAddr::V6(Ipv6Addr::from(octets)));
    }
}

/// The config's `[server]`, `[upstream]`, `[webhooks_retry]`, `[health] exempt` and
/// `[[webhooks]]` `secret_env`/`projects` fields, filled from fuzz input (NUL-separated): the
/// loader never panics, an error names a line of the file and repeats no secret, and a config it
/// accepts holds every value within its documented bounds.
pub fn config_new_fields(data: &[u8]) {
    let mut parts = data
        .split(|b| *b == 0)
        .map(|part| String::from_utf8_lossy(part).into_owned());
    let mut next = || parts.next().unwrap_or_default();
    let list = |text: String| {
        let items: Vec<String> = text.split(',').map(quoted).collect();
        format!("[{}]", items.join(", "))
    };
    // Numbers go in as written, so that the fuzzer reaches the TOML reader's edges too.
    let text = format!(
        "environment = \"production\"\n\
         [[projects]]\nid = \"proj_a\"\nadds_per_month = 10\nqueries_per_month = 10\n\
         [[webhooks]]\nurl = \"https://hooks.example.com/in\"\nevents = [\"quota.threshold\"]\n\
         secret_env = {}\nprojects = {}\n\
         [health]\nexempt = {}\n\
         [webhooks_retry]\nschedule = {}\n\
         [server]\nheader_read_timeout_ms = {}\nidle_timeout_ms = {}\nmax_connections = {}\n\
         max_body_bytes = {}\nshutdown_grace_ms = {}\n",
        list(next()),
        list(next()),
        list(next()),
        list(next()),
        next(),
        next(),
        next(),
        next(),
        next(),
    );
    // `[upstream]` came later: a field whose part is absent is left out, so the older corpus
    // entries (nine parts) still read as they did.
    let mut text = text;
    text.push_str("[upstream]\n");
    for field in ["connect_timeout_ms", "request_timeout_ms", "pool_max_idle"] {
        if let Some(value) = parts.next() {
            text.push_str(&format!("{field} = {value}\n"));
        }
    }
    match Config::from_toml(&text) {
        Err(error) => {
            if let Some(line) = error.line() {
                assert!(
                    line >= 1 && line <= text.lines().count().max(1) + 1,
                    "line {line} out of range"
                );
            }
            let message = error.to_string();
            // A prefix may stand in the message, but never followed by what a secret's body is
            // made of: that part is redacted.
            let body =
                |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=');
            for prefix in ["whsec_", "msk_", "msa_"] {
                for (at, _) in message.match_indices(prefix) {
                    let after = &message[at + prefix.len()..];
                    assert!(
                        after.starts_with("[redacted]") || !after.starts_with(body),
                        "the error repeats {prefix} material: {message}"
                    );
                }
            }
        }
        Ok(config) => {
            let hour = std::time::Duration::from_secs(3_600);
            let server = &config.server;
            for timeout in [
                server.header_read_timeout,
                server.idle_timeout,
                server.shutdown_grace,
            ] {
                assert!(!timeout.is_zero() && timeout <= hour, "{timeout:?}");
            }
            assert!((1..=1_000_000).contains(&server.max_connections));
            assert!((1..=1 << 30).contains(&server.max_body_bytes));
            let upstream = &config.upstream;
            for timeout in [upstream.connect_timeout, upstream.request_timeout] {
                assert!(!timeout.is_zero() && timeout <= hour, "{timeout:?}");
            }
            assert!(upstream.pool_max_idle <= 100_000);
            let schedule = &config.webhooks_retry.schedule;
            assert!((1..=32).contains(&schedule.len()), "{schedule:?}");
            assert!(schedule.iter().all(|wait| *wait <= 7 * 24 * hour));
            for hook in &config.webhooks {
                assert!(!hook.secret_env.is_empty());
                assert!(hook.secret_env.iter().all(|name| {
                    !name.is_empty() && !name.contains('=') && !name.starts_with("whsec_")
                }));
            }
        }
    }
}

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
