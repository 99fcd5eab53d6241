//! Who the client is: the socket peer, or, behind trusted proxies, the address they forwarded.
//!
//! The peer address comes from the [`ClientAddr`] extension (hyper users insert it when they
//! accept a connection) or, with the `axum` feature, from axum's `ConnectInfo<SocketAddr>`.
//! `X-Forwarded-For` is believed only when the peer is a configured trusted proxy, and then the
//! client is the right-most address that is not itself a trusted proxy: everything to its left
//! was written by the client and proves nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The address of the connection's peer, as a request extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// The networks whose `X-Forwarded-For` is believed. Empty by default: believe no one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Arc<[IpNet]>,
}

impl TrustedProxies {
    /// Trust these networks.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        TrustedProxies {
            networks: networks.into_iter().collect(),
        }
    }

    /// Whether `ip` is in a trusted network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// Whether no network is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

/// The peer's address from the request extensions, if the server recorded it.
pub fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    if let Some(ClientAddr(addr)) = extensions.get::<ClientAddr>() {
        return Some(addr.ip().to_canonical());
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(addr.ip().to_canonical());
    }
    None
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most untrusted address of `X-Forwarded-For`.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let mut client = peer?;
    if !trusted.contains(client) {
        return Some(client);
    }
    // Several X-Forwarded-For lines read as one list in order; walk it from the right.
    for line in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(line) = line.to_str() else {
            // An unreadable line from a trusted proxy: the last trusted hop is the best we know.
            return Some(client);
        };
        for hop in line.rsplit(',') {
            let Some(hop) = parse_hop(hop.trim()) else {
                // A malformed entry ends the walk at the last address we could trust.
                return Some(client);
            };
            client = hop;
            if !trusted.contains(hop) {
                return Some(hop);
            }
        }
    }
    Some(client)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(["10.0.0.0/8".parse().unwrap()])
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = xff(&["1.1.1.1"]);
        assert_eq!(
            client_ip(&headers, Some(ip("9.9.9.9")), &proxies()),
            Some(ip("9.9.9.9"))
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let headers = xff(&["6.6.6.6, 2.2.2.2", "10.0.0.7"]);
        assert_eq!(
            client_ip(&headers, Some(ip("10.0.0.1")), &proxies()),
            Some(ip("2.2.2.2"))
        );
    }

    #[test]
    fn all_trusted_hops_give_the_left_most() {
        let headers = xff(&["10.0.0.9, 10.0.0.8"]);
        assert_eq!(
            client_ip(&headers, Some(ip("10.0.0.1")), &proxies()),
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn a_malformed_hop_stops_at_the_last_trusted_one() {
        let headers = xff(&["2.2.2.2, garbage, 10.0.0.8"]);
        assert_eq!(
            client_ip(&headers, Some(ip("10.0.0.1")), &proxies()),
            Some(ip("10.0.0.8"))
        );
    }

    #[test]
    fn ports_and_mapped_addresses_are_normalised() {
        let headers = xff(&["[::ffff:3.3.3.3]:443"]);
        assert_eq!(
            client_ip(&headers, Some(ip("10.0.0.1")), &proxies()),
            Some(ip("3.3.3.3"))
        );
    }
}
