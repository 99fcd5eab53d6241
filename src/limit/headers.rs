//! The `RateLimit-Policy` and `RateLimit` fields of the IETF httpapi draft
//! (draft-ietf-httpapi-ratelimit-headers): `"rps";q=10;w=1, "rpm";q=300;w=60` and
//! `"rpm";r=12;t=9`.
//!
//! Every admitted response carries both, so they are written into a buffer on the stack: one
//! allocation per field (the `HeaderValue`'s bytes), none for formatting.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::limits::{Decision, WindowStatus};

/// `RateLimit-Policy`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Adds both fields for `decision`; nothing when the key has no limits.
pub(crate) fn insert(headers: &mut HeaderMap, decision: &Decision) {
    let mut policy = Field::new();
    for window in [decision.per_second, decision.per_minute].iter().flatten() {
        if !policy.is_empty() {
            policy.push(b", ");
        }
        policy.push_name(window.kind.policy_name());
        policy.push(b";q=");
        policy.push_number(u64::from(window.limit));
        policy.push(b";w=");
        policy.push_number(window.window_secs);
    }
    if let Some(value) = policy.value() {
        headers.insert(RATELIMIT_POLICY, value);
    }
    if let Some(WindowStatus {
        kind,
        remaining,
        reset_secs,
        ..
    }) = decision.tightest()
    {
        // On a 429 this window is the one refusing: `r` is 0 and `t` is its `Retry-After`.
        let mut field = Field::new();
        field.push_name(kind.policy_name());
        field.push(b";r=");
        field.push_number(remaining);
        field.push(b";t=");
        field.push_number(reset_secs);
        if let Some(value) = field.value() {
            headers.insert(RATELIMIT, value);
        }
    }
}

/// Room for the longest field: `"rps";q=<u32>;w=3600, "rpm";q=<u32>;w=86400`, or
/// `"rpm";r=<u64>;t=<u64>`.
const ROOM: usize = 64;

/// A field value being written: names, digits and punctuation only.
struct Field {
    bytes: [u8; ROOM],
    len: usize,
    /// Something did not fit: the field is refused rather than sent cut.
    overflowed: bool,
}

impl Field {
    fn new() -> Self {
        Field {
            bytes: [0; ROOM],
            len: 0,
            overflowed: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `part`, unless it does not fit: then [`Field::value`] refuses the field.
    fn push(&mut self, part: &[u8]) {
        let end = self.len + part.len();
        match self.bytes.get_mut(self.len..end) {
            Some(room) if !self.overflowed => {
                room.copy_from_slice(part);
                self.len = end;
            }
            _ => self.overflowed = true,
        }
    }

    /// `"name"`.
    fn push_name(&mut self, name: &str) {
        self.push(b"\"");
        self.push(name.as_bytes());
        self.push(b"\"");
    }

    fn push_number(&mut self, n: u64) {
        self.push(itoa::Buffer::new().format(n).as_bytes());
    }

    fn value(&self) -> Option<HeaderValue> {
        if self.len == 0 || self.overflowed {
            return None;
        }
        // Names, digits and punctuation: always a valid field value.
        HeaderValue::from_bytes(&self.bytes[..self.len]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_full_from_zero_to_the_largest() {
        for n in [0, 7, 10, 4_294_967_295, u64::MAX] {
            let mut field = Field::new();
            field.push_number(n);
            assert_eq!(field.value().unwrap(), n.to_string().as_str());
        }
    }

    #[test]
    fn a_field_that_would_not_fit_is_refused_rather_than_cut() {
        let mut field = Field::new();
        field.push(&[b'a'; ROOM]);
        assert_eq!(field.value().unwrap().len(), ROOM);
        field.push(b"b");
        assert!(field.value().is_none());
        field.push(b"c");
        assert!(field.value().is_none(), "stays refused");
    }
}
