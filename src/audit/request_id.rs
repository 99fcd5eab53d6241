//! `X-Request-Id`: taken from the request when well-formed, else generated; echoed back.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};

/// The request id header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from a client.
const MAX_LEN: usize = 128;

/// The request's id: its own `X-Request-Id` if it sent exactly one of at most 128 visible ASCII
/// characters, else a new one (`req_` + 16 hex digits of a per-process random prefix + a
/// counter), so a client cannot smuggle log structure or megabytes into the audit log.
pub(crate) fn request_id(headers: &HeaderMap) -> (String, HeaderValue) {
    let mut values = headers.get_all(X_REQUEST_ID).iter();
    if let (Some(value), None) = (values.next(), values.next())
        && let Ok(text) = value.to_str()
        && (1..=MAX_LEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_graphic())
    {
        return (text.to_owned(), value.clone());
    }
    let id = generated();
    // Hex digits and `req_`: always valid UTF-8 and a valid field value.
    let text = std::str::from_utf8(&id).unwrap_or("req_unknown").to_owned();
    let value = HeaderValue::from_bytes(&id).unwrap_or(HeaderValue::from_static("req_unknown"));
    (text, value)
}

/// `req_` + 8 hex digits of the prefix + 16 of the counter, written on the stack: ids are made
/// for most requests, and `format!` costs several times more.
fn generated() -> [u8; 28] {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        // Without randomness ids are still unique within the process; only the prefix is lost.
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut id = *b"req_000000000000000000000000";
    write_hex(&mut id[4..12], u64::from(prefix));
    write_hex(&mut id[12..], n);
    id
}

/// `n`'s low `out.len()` hex digits into `out`, most significant first.
fn write_hex(out: &mut [u8], mut n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n & 0xf) as usize];
        n >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_id_is_kept_and_a_bad_one_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&headers).0, "abc-123");
        for bad in ["", "has space", &"x".repeat(129)] {
            headers.insert(X_REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            assert!(request_id(&headers).0.starts_with("req_"), "{bad:?}");
        }
        headers.append(X_REQUEST_ID, HeaderValue::from_static("second"));
        assert!(request_id(&headers).0.starts_with("req_"));
    }

    #[test]
    fn generated_ids_are_the_prefix_and_the_counter_in_hex() {
        let mut out = [0u8; 8];
        write_hex(&mut out, 0xdead_beef);
        assert_eq!(&out, b"deadbeef");
        let mut out = [0u8; 16];
        write_hex(&mut out, 0x1f);
        assert_eq!(&out, b"000000000000001f");
        let (id, value) = request_id(&HeaderMap::new());
        assert_eq!((id.len(), value.to_str().unwrap()), (28, id.as_str()));
        assert!(id.starts_with("req_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn generated_ids_differ() {
        let empty = HeaderMap::new();
        assert_ne!(request_id(&empty).0, request_id(&empty).0);
    }
}
