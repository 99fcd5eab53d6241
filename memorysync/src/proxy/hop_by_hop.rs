//! Hop-by-hop header fields (RFC 9110 section 7.6.1): they describe one connection, so a proxy
//! drops them in both directions instead of passing them on.

use http::header::{self, HeaderMap, HeaderName};

/// The fields that are hop-by-hop whether or not `Connection` names them.
const ALWAYS: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes every hop-by-hop field: the fixed list, and every field a `Connection` line names.
/// A name that is not a valid field name cannot be present, so it is skipped. A message framed
/// by `Transfer-Encoding` loses its `Content-Length` too (RFC 9112 section 6.3): the two
/// disagreeing on the next hop is how requests are smuggled.
pub(super) fn strip(headers: &mut HeaderMap) {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        // Bytes, not text: a line with one non-ASCII token still names the others.
        .flat_map(|line| line.as_bytes().split(|b| *b == b','))
        .filter_map(|token| HeaderName::from_bytes(token.trim_ascii()).ok())
        .collect();
    for name in named.iter().chain(ALWAYS.iter()) {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_fixed_list_and_every_field_connection_names_are_removed() {
        let mut map = headers(&[
            ("connection", "close, X-Secret-Hop"),
            ("connection", " x-other ,keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authenticate", "Basic"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-secret-hop", "1"),
            ("x-other", "2"),
            ("x-other", "3"),
            ("content-type", "text/plain"),
            ("x-kept", "yes"),
        ]);
        strip(&mut map);
        let mut left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-kept"]);
    }

    #[test]
    fn a_length_beside_a_transfer_encoding_is_dropped_and_alone_kept() {
        let mut map = headers(&[("transfer-encoding", "chunked"), ("content-length", "5")]);
        strip(&mut map);
        assert!(map.is_empty());
        let mut map = headers(&[("content-length", "5")]);
        strip(&mut map);
        assert_eq!(map["content-length"], "5");
    }

    #[test]
    fn a_connection_token_that_is_no_field_name_is_skipped() {
        let mut map = headers(&[
            ("connection", "bad name, ,x-gone"),
            ("x-gone", "1"),
            ("a", "b"),
        ]);
        let odd = HeaderValue::from_bytes(b"caf\xc3\xa9, x-too").expect("obs-text is allowed");
        map.append("connection", odd);
        map.append("x-too", HeaderValue::from_static("1"));
        strip(&mut map);
        assert_eq!(map.len(), 1);
        assert!(map.contains_key("a"));
    }
}
