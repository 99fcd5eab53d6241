//! Where a production deployment may send webhooks: `https://` to globally routable addresses
//! only. Checked on the URL and again on every address its host resolves to, so a name that
//! resolves to an internal address (or is re-pointed there: DNS rebinding) is refused.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::Uri;

use super::special;
use crate::environment::Environment;

/// Why a webhook target is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetError {
    /// Not an absolute `http://` or `https://` URL with a host.
    NotAUrl,
    /// `http://` in a production deployment.
    NotHttps,
    /// The host is, or resolves to, an address that is not globally routable (private,
    /// loopback, link-local, ...). The address is named; it is not a secret.
    NotGlobal(IpAddr),
    /// The host did not resolve.
    Unresolved,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::NotAUrl => f.write_str("a webhook URL is http:// or https:// with a host"),
            TargetError::NotHttps => f.write_str("production webhooks must use https://"),
            TargetError::NotGlobal(ip) => write!(
                f,
                "production webhooks may not target {ip}: not a globally routable address"
            ),
            TargetError::Unresolved => f.write_str("the webhook host did not resolve"),
        }
    }
}

impl std::error::Error for TargetError {}

/// Checks a URL before any connection: scheme and, for an address literal, the address.
pub fn check_url(url: &Uri, deployment: Environment) -> Result<(), TargetError> {
    let scheme = url.scheme_str().ok_or(TargetError::NotAUrl)?;
    let host = url.host().ok_or(TargetError::NotAUrl)?;
    if !matches!(scheme, "http" | "https") || host.is_empty() {
        return Err(TargetError::NotAUrl);
    }
    if deployment == Environment::Production {
        if scheme != "https" {
            return Err(TargetError::NotHttps);
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            check_address(ip, deployment)?;
        }
    }
    Ok(())
}

/// Checks one resolved address.
pub fn check_address(ip: IpAddr, deployment: Environment) -> Result<(), TargetError> {
    if deployment == Environment::Production && !is_global(ip) {
        return Err(TargetError::NotGlobal(ip));
    }
    Ok(())
}

/// Whether `ip` is globally reachable as the IANA special-purpose address registries say: the
/// most specific registry block holding it decides; an IPv4 address in no block is global
/// unless multicast, an IPv6 address in no block only within global unicast (`2000::/3`).
/// Addresses mapped or translated from IPv4 (`::ffff:0:0/96`, `64:ff9b:1::/48`) are refused
/// whatever they embed; `64:ff9b::/96`, global in the registry, only carries global IPv4
/// addresses (RFC 6052 section 3.1), so the embedded address is checked as well. (The standard
/// library's `is_global` is unstable.)
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    special::ipv4_entry(ip).unwrap_or(!ip.is_multicast())
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    match special::ipv6_entry(ip) {
        Some(false) => false,
        Some(true) if ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            let [.., hi, lo] = ip.segments();
            is_global_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))
        }
        Some(true) => true,
        None => ip.segments()[0] & 0xe000 == 0x2000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(text: &str) -> bool {
        is_global(text.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_not_global() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "ff02::1",
            "2002:7f00:1::",
            "::127.0.0.1",
            "::ffff:1.1.1.1",
            "64:ff9b:1::101:101",
            "::ffff:0:101:101",
        ] {
            assert!(!global(ip), "{ip} counted as global");
        }
    }

    #[test]
    fn public_addresses_are_global() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "64:ff9b::101:101",
        ] {
            assert!(global(ip), "{ip} counted as internal");
        }
    }

    #[test]
    fn production_urls_are_https_to_global_literals() {
        let prod = Environment::Production;
        let url = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            check_url(&url("http://hooks.example.com/x"), prod),
            Err(TargetError::NotHttps)
        );
        assert!(matches!(
            check_url(&url("https://127.0.0.1/x"), prod),
            Err(TargetError::NotGlobal(_))
        ));
        assert!(matches!(
            check_url(&url("https://[::1]:8443/x"), prod),
            Err(TargetError::NotGlobal(_))
        ));
        assert_eq!(check_url(&url("https://hooks.example.com/x"), prod), Ok(()));
        assert_eq!(
            check_url(&url("http://127.0.0.1:9000/x"), Environment::Development),
            Ok(())
        );
        assert_eq!(
            check_url(&url("/relative"), prod),
            Err(TargetError::NotAUrl)
        );
        assert_eq!(
            check_url(&url("ftp://host/x"), prod),
            Err(TargetError::NotAUrl)
        );
    }
}
