//! Reading the key from `Authorization: Bearer` or `X-API-Key`.

use http::header::{AUTHORIZATION, HeaderMap, HeaderName};
use subtle::ConstantTimeEq;

use crate::key::ApiKey;
use crate::rejection::{Rejection, RejectionCode};

/// The alternative key header.
pub(crate) const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

const MALFORMED: RejectionCode = RejectionCode::MalformedApiKey;

/// The key the request presents, format and checksum checked; no store is consulted.
pub(crate) fn presented_key(headers: &HeaderMap) -> Result<ApiKey, Rejection> {
    let bearer = single_value(headers, &AUTHORIZATION)?
        .map(bearer_token)
        .transpose()?;
    let header_key = single_value(headers, &X_API_KEY)?;
    let token = match (bearer, header_key) {
        (None, None) => {
            return Err(Rejection::new(
                RejectionCode::MissingApiKey,
                "send the API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            ));
        }
        (Some(token), None) | (None, Some(token)) => token,
        (Some(bearer), Some(header_key)) => {
            // Both are secrets: compare in constant time.
            if !bool::from(bearer.ct_eq(header_key)) {
                return Err(Rejection::new(
                    MALFORMED,
                    "Authorization and X-API-Key carry different keys",
                ));
            }
            bearer
        }
    };
    ApiKey::parse_bytes(token).map_err(|e| Rejection::new(MALFORMED, e.message()))
}

/// The value of a header that may appear at most once.
fn single_value<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h [u8]>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Rejection::new(MALFORMED, "send the API key header once"));
    }
    Ok(first.map(|v| v.as_bytes()))
}

/// The token of `Bearer <token>`. The scheme is case-insensitive (RFC 9110, section 11.1).
fn bearer_token(value: &[u8]) -> Result<&[u8], Rejection> {
    let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
        Some(space) => value.split_at(space),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(Rejection::new(
            MALFORMED,
            "the Authorization header must use the Bearer scheme",
        ));
    }
    let token = rest.trim_ascii();
    if token.is_empty() {
        return Err(Rejection::new(
            MALFORMED,
            "the Bearer scheme carries no key",
        ));
    }
    Ok(token)
}
