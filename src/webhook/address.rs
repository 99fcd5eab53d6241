//! Where a production deployment may send webhooks: `https://` to globally routable addresses
//! only. Checked on the URL and again on every address its host resolves to, so a name that
//! resolves to an internal address (or is re-pointed there: DNS rebinding) is refused.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::Uri;

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

/// Whether `ip` is globally routable: not private, loopback, link-local, shared, reserved,
/// documentation, benchmarking, multicast or unspecified, and not an IPv4 address of those
/// kinds mapped or translated into IPv6. (The standard library's `is_global` is unstable.)
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                  // "this network" (0.0.0.0/8)
        || a == 10                            // private
        || a == 127                           // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 169 && b == 254)             // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)     // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)     // documentation
        || (a == 192 && b == 88 && c == 99)   // deprecated 6to4 relay
        || (a == 192 && b == 168)             // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)  // documentation
        || (a == 203 && b == 0 && c == 113)   // documentation
        || a >= 224) // multicast, reserved and broadcast
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return is_global_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || segments[0] & 0xfe00 == 0xfc00       // unique local fc00::/7
        || segments[0] & 0xffc0 == 0xfe80       // link-local fe80::/10
        || segments[0] & 0xffc0 == 0xfec0       // deprecated site-local fec0::/10
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] < 0x0200)  // IETF protocol assignments 2001::/23
        || segments[0] == 0x2002                // 6to4: may embed any IPv4 address
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // discard-only 100::/64
        || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated) and ::/96
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
            "::ffff:1.1.1.1",
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
