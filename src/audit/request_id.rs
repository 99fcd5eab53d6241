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
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("req_unknown"));
    (id, value)
}

fn generated() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        // Without randomness ids are still unique within the process; only the prefix is lost.
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("req_{prefix:08x}{n:016x}")
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
    fn generated_ids_differ() {
        let empty = HeaderMap::new();
        assert_ne!(request_id(&empty).0, request_id(&empty).0);
    }
}
