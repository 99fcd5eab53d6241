//! One admin call as data: method, path under `/admin/v1`, query and JSON body. Each command
//! builds one, so that its unit tests check what would be sent without a server.

use http::Method;
use serde_json::Value;

/// Where every route of the admin API is.
pub(crate) const PREFIX: &str = "/admin/v1";

/// A request to the admin API, before it is sent.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiRequest {
    /// The method.
    pub(crate) method: Method,
    /// The path after [`PREFIX`], each segment percent-encoded, e.g. `/keys/key_1/rotate`.
    pub(crate) path: String,
    /// The query's pairs, in order, not yet encoded.
    pub(crate) query: Vec<(&'static str, String)>,
    /// The JSON body, for the calls that take one.
    pub(crate) body: Option<Value>,
}

impl ApiRequest {
    /// A request without query or body to the path made of `segments`.
    pub(crate) fn new(method: Method, segments: &[&str]) -> Self {
        let mut path = String::new();
        for segment in segments {
            path.push('/');
            path.push_str(&encode_segment(segment));
        }
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    /// `GET` of the path made of `segments`.
    pub(crate) fn get(segments: &[&str]) -> Self {
        Self::new(Method::GET, segments)
    }

    /// `POST` of `body` to the path made of `segments`.
    pub(crate) fn post(segments: &[&str], body: Value) -> Self {
        Self::new(Method::POST, segments).body(body)
    }

    /// This request with `body`.
    pub(crate) fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// This request with `name=value` in its query when `value` is given.
    pub(crate) fn query(mut self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.into()));
        }
        self
    }

    /// The path from the root, query included: `/admin/v1/keys?project=proj_a`.
    pub(crate) fn path_and_query(&self) -> String {
        let mut out = format!("{PREFIX}{}", self.path);
        for (index, (name, value)) in self.query.iter().enumerate() {
            out.push(if index == 0 { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            out.push_str(&encode(value));
        }
        out
    }

    /// This request asking for the page after `cursor`, of at most `limit` items.
    pub(crate) fn page(&self, cursor: Option<&str>, limit: Option<u32>) -> Self {
        self.clone()
            .query("cursor", cursor)
            .query("limit", limit.map(|n| n.to_string()))
    }
}

/// `text` with every byte but the unreserved ones of RFC 3986 (`A-Z a-z 0-9 - . _ ~`)
/// percent-encoded: safe in a path segment and in a query value (`+`, `&`, `=`, `:` included).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A path segment: [`encode`], and a segment of dots alone (`.`, `..`) encoded whole, so that
/// no client or proxy on the way reads it as a step up the path.
fn encode_segment(segment: &str) -> String {
    if !segment.is_empty() && segment.bytes().all(|b| b == b'.') {
        return "%2E".repeat(segment.len());
    }
    encode(segment)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_and_queries_are_encoded_and_pages_add_cursor_and_limit() {
        let request = ApiRequest::get(&["keys", "key 1/..", ".."])
            .query("project", Some("proj_a"))
            .query("environment", None::<String>)
            .query("from", Some("2026-01-01T00:00:00+02:00"));
        assert_eq!(
            request.path_and_query(),
            "/admin/v1/keys/key%201%2F../%2E%2E?project=proj_a&from=2026-01-01T00%3A00%3A00%2B02%3A00"
        );
        let page = request.page(Some("a+b"), Some(20));
        assert!(
            page.path_and_query().ends_with("&cursor=a%2Bb&limit=20"),
            "{}",
            page.path_and_query()
        );
        assert_eq!(
            ApiRequest::get(&["keys"]).page(None, None).path_and_query(),
            "/admin/v1/keys"
        );
    }

    #[test]
    fn a_post_carries_its_body() {
        let request = ApiRequest::post(&["keys", "key_1", "revoke"], json!({}));
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.body, Some(json!({})));
        assert_eq!(request.path_and_query(), "/admin/v1/keys/key_1/revoke");
    }
}
