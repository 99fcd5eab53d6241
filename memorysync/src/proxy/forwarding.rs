//! `X-Forwarded-*`: what the upstream would have seen without the proxy in between.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use memorysync_pipeline::TrustedProxies;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// What the proxy knows of the connection a request came on.
pub(super) struct Hop<'a> {
    /// The peer's address (`ClientAddr`), when the server recorded it.
    pub(super) peer: Option<IpAddr>,
    /// The `Host` the client asked for, read before the hop-by-hop fields were removed.
    pub(super) host: Option<HeaderValue>,
    /// `http` or `https`: how clients reach the proxy.
    pub(super) proto: &'static str,
    pub(super) trusted: &'a TrustedProxies,
}

/// Writes the forwarding fields. `X-Forwarded-For` is the peer appended to the client's own list
/// when the peer is a trusted proxy, else the peer alone: an untrusted client's list proves
/// nothing. `Forwarded` (RFC 7239), which this proxy does not write, is passed on by the same
/// rule: only from a trusted peer. `X-Forwarded-Proto` and `X-Forwarded-Host` are always
/// replaced. The client's `Host` is not passed on: the upstream gets its own authority.
pub(super) fn write(headers: &mut HeaderMap, hop: Hop<'_>) {
    let trusted_peer = hop.peer.is_some_and(|peer| hop.trusted.contains(peer));
    let earlier: Vec<HeaderValue> = if trusted_peer {
        headers.get_all(X_FORWARDED_FOR).iter().cloned().collect()
    } else {
        headers.remove(header::FORWARDED);
        Vec::new()
    };
    headers.remove(X_FORWARDED_FOR);
    if let Some(peer) = hop.peer {
        let mut list = Vec::new();
        for value in earlier {
            list.extend_from_slice(value.as_bytes());
            list.extend_from_slice(b", ");
        }
        list.extend_from_slice(peer.to_string().as_bytes());
        // The earlier values were valid field values and the separator and address are ASCII.
        if let Ok(value) = HeaderValue::from_bytes(&list) {
            headers.insert(X_FORWARDED_FOR, value);
        }
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(hop.proto));
    headers.remove(X_FORWARDED_HOST);
    if let Some(host) = hop.host {
        headers.insert(X_FORWARDED_HOST, host);
    }
    headers.remove(header::HOST);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(peer: &str, trusted: &[&str], sent: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in sent {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_static(value));
        }
        headers.insert(header::HOST, HeaderValue::from_static("api.example.com"));
        headers.insert(header::FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
        headers.insert(X_FORWARDED_HOST, HeaderValue::from_static("forged.example"));
        let trusted = TrustedProxies::new(trusted.iter().map(|n| n.parse().expect("a CIDR")));
        let hop = Hop {
            peer: peer.parse().ok(),
            host: headers.get(header::HOST).cloned(),
            proto: "https",
            trusted: &trusted,
        };
        write(&mut headers, hop);
        headers
    }

    fn xff(headers: &HeaderMap) -> Vec<&str> {
        let values = headers.get_all(X_FORWARDED_FOR).iter();
        values.map(|v| v.to_str().expect("ascii")).collect()
    }

    #[test]
    fn an_untrusted_peer_replaces_the_client_s_list() {
        let headers = forwarded("203.0.113.9", &["10.0.0.0/8"], &["1.2.3.4", "5.6.7.8"]);
        assert_eq!(xff(&headers), ["203.0.113.9"]);
        assert!(!headers.contains_key(header::FORWARDED));
        assert_eq!(headers[X_FORWARDED_PROTO], "https");
        assert_eq!(headers[X_FORWARDED_HOST], "api.example.com");
        assert!(!headers.contains_key(header::HOST));
    }

    #[test]
    fn a_trusted_peer_is_appended_to_the_client_s_list() {
        let headers = forwarded(
            "10.1.2.3",
            &["10.0.0.0/8"],
            &["1.2.3.4", "5.6.7.8, 9.9.9.9"],
        );
        assert_eq!(xff(&headers), ["1.2.3.4, 5.6.7.8, 9.9.9.9, 10.1.2.3"]);
        assert_eq!(headers[header::FORWARDED], "for=6.6.6.6");
        let alone = forwarded("10.1.2.3", &["10.0.0.0/8"], &[]);
        assert_eq!(xff(&alone), ["10.1.2.3"]);
    }

    #[test]
    fn without_a_known_peer_no_list_is_passed_on() {
        let headers = forwarded("not an address", &["10.0.0.0/8"], &["1.2.3.4"]);
        assert!(xff(&headers).is_empty());
        assert!(!headers.contains_key(header::FORWARDED));
    }
}
