//! The `RateLimit-Policy` and `RateLimit` fields of the IETF httpapi draft
//! (draft-ietf-httpapi-ratelimit-headers): `"rps";q=10;w=1, "rpm";q=300;w=60` and
//! `"rpm";r=12;t=9`.

use std::fmt::Write;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::limits::{Decision, WindowStatus};

/// `RateLimit-Policy`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Adds both fields for `decision`; nothing when the key has no limits.
pub(crate) fn insert(headers: &mut HeaderMap, decision: &Decision) {
    let windows = [decision.per_second, decision.per_minute];
    let mut policy = String::new();
    for window in windows.iter().flatten() {
        let sep = if policy.is_empty() { "" } else { ", " };
        let _ = write!(
            policy,
            "{sep}\"{}\";q={};w={}",
            window.kind.policy_name(),
            window.limit,
            window.kind.seconds()
        );
    }
    if let Some(value) = to_value(policy) {
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
        let field = format!("\"{}\";r={remaining};t={reset_secs}", kind.policy_name());
        if let Some(value) = to_value(field) {
            headers.insert(RATELIMIT, value);
        }
    }
}

fn to_value(text: String) -> Option<HeaderValue> {
    if text.is_empty() {
        return None;
    }
    // Built from names, digits and punctuation only: always a valid field value.
    HeaderValue::try_from(text).ok()
}
