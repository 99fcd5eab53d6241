//! The SSRF guard against every entry of the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries (as of 2025): the first, a middle and the last address of each block are allowed
//! exactly when the most specific entry holding them is "Globally Reachable: True". Entries
//! marked "N/A" or deprecated count as not global. One refinement, from RFC 6052 section 3.1:
//! `64:ff9b::/96` carries only global IPv4 addresses, so an address in it is global when the
//! IPv4 address it embeds is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use memorysync_pipeline::webhook::is_global;

/// Address block, name, Globally Reachable.
const IPV4: [(&str, &str, bool); 26] = [
    ("0.0.0.0/8", "\"This network\"", false),
    ("0.0.0.0/32", "\"This host on this network\"", false),
    ("10.0.0.0/8", "Private-Use", false),
    ("100.64.0.0/10", "Shared Address Space", false),
    ("127.0.0.0/8", "Loopback", false),
    ("169.254.0.0/16", "Link Local", false),
    ("172.16.0.0/12", "Private-Use", false),
    ("192.0.0.0/24", "IETF Protocol Assignments", false),
    ("192.0.0.0/29", "IPv4 Service Continuity Prefix", false),
    ("192.0.0.8/32", "IPv4 dummy address", false),
    ("192.0.0.9/32", "Port Control Protocol Anycast", true),
    (
        "192.0.0.10/32",
        "Traversal Using Relays around NAT Anycast",
        true,
    ),
    ("192.0.0.170/32", "NAT64/DNS64 Discovery", false),
    ("192.0.0.171/32", "NAT64/DNS64 Discovery", false),
    ("192.0.2.0/24", "Documentation (TEST-NET-1)", false),
    ("192.31.196.0/24", "AS112-v4", true),
    ("192.52.193.0/24", "AMT", true),
    ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", false),
    ("192.88.99.2/32", "6a44-relay anycast address", false),
    ("192.168.0.0/16", "Private-Use", false),
    ("192.175.48.0/24", "Direct Delegation AS112 Service", true),
    ("198.18.0.0/15", "Benchmarking", false),
    ("198.51.100.0/24", "Documentation (TEST-NET-2)", false),
    ("203.0.113.0/24", "Documentation (TEST-NET-3)", false),
    ("240.0.0.0/4", "Reserved", false),
    ("255.255.255.255/32", "Limited Broadcast", false),
];

/// Address block, name, Globally Reachable.
const IPV6: [(&str, &str, bool); 25] = [
    ("::1/128", "Loopback Address", false),
    ("::/128", "Unspecified Address", false),
    ("::ffff:0:0/96", "IPv4-mapped Address", false),
    ("64:ff9b::/96", "IPv4-IPv6 Translat.", true),
    ("64:ff9b:1::/48", "IPv4-IPv6 Translat. (local use)", false),
    ("100::/64", "Discard-Only Address Block", false),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix", false),
    ("2001::/23", "IETF Protocol Assignments", false),
    ("2001::/32", "TEREDO (N/A)", false),
    ("2001:1::1/128", "Port Control Protocol Anycast", true),
    (
        "2001:1::2/128",
        "Traversal Using Relays around NAT Anycast",
        true,
    ),
    (
        "2001:1::3/128",
        "DNS-SD Service Registration Protocol Anycast",
        true,
    ),
    ("2001:2::/48", "Benchmarking", false),
    ("2001:3::/32", "AMT", true),
    ("2001:4:112::/48", "AS112-v6", true),
    ("2001:10::/28", "Deprecated (previously ORCHID)", false),
    ("2001:20::/28", "ORCHIDv2", true),
    (
        "2001:30::/28",
        "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
        true,
    ),
    ("2001:db8::/32", "Documentation", false),
    ("2002::/16", "6to4 (N/A)", false),
    ("2620:4f:8000::/48", "Direct Delegation AS112 Service", true),
    ("3fff::/20", "Documentation", false),
    ("5f00::/16", "Segment Routing (SRv6) SIDs", false),
    ("fc00::/7", "Unique-Local", false),
    ("fe80::/10", "Link-Local Unicast", false),
];

fn entries() -> Vec<(IpNet, &'static str, bool)> {
    IPV4.iter()
        .chain(IPV6.iter())
        .map(|(block, name, global)| (block.parse().unwrap(), *name, *global))
        .collect()
}

/// The first, the middle and the last address of a block.
fn samples(block: IpNet) -> [IpAddr; 3] {
    match block {
        IpNet::V4(net) => {
            let (first, last) = (net.network().to_bits(), net.broadcast().to_bits());
            let middle = first + (last - first).div_ceil(2);
            [first, middle, last].map(|a| IpAddr::V4(Ipv4Addr::from_bits(a)))
        }
        IpNet::V6(net) => {
            let (first, last) = (net.network().to_bits(), net.broadcast().to_bits());
            let middle = first + (last - first).div_ceil(2);
            [first, middle, last].map(|a| IpAddr::V6(Ipv6Addr::from_bits(a)))
        }
    }
}

/// What the registries say of `ip`: the flag of the most specific entry holding it; an IPv4
/// address in no entry is global (none of the samples is multicast).
fn registry_says(entries: &[(IpNet, &str, bool)], ip: IpAddr) -> bool {
    let Some((block, _, global)) = entries
        .iter()
        .filter(|(block, _, _)| block.contains(&ip))
        .max_by_key(|(block, _, _)| block.prefix_len())
    else {
        return ip.is_ipv4();
    };
    let nat64: IpNet = "64:ff9b::/96".parse().unwrap();
    match ip {
        IpAddr::V6(v6) if *block == nat64 => {
            let embedded = Ipv4Addr::from_bits(v6.to_bits() as u32);
            *global && registry_says(entries, IpAddr::V4(embedded))
        }
        _ => *global,
    }
}

#[test]
fn is_global_follows_every_entry_of_the_iana_special_purpose_registries() {
    let entries = entries();
    let mut wrong = Vec::new();
    for (block, name, _) in &entries {
        for ip in samples(*block) {
            let expected = registry_says(&entries, ip);
            if is_global(ip) != expected {
                wrong.push(format!(
                    "{ip} in {block} ({name}): expected global = {expected}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn local_use_nat64_and_ipv4_mapped_addresses_do_not_pass_the_ssrf_guard() {
    for ip in [
        "64:ff9b:1::808:808",
        "64:ff9b:1::a00:1",
        "::ffff:8.8.8.8",
        "::ffff:0:808:808",
        "64:ff9b::a9fe:a9fe",
        "2001:1::4",
        "4000::1",
    ] {
        assert!(!is_global(ip.parse().unwrap()), "{ip} counted as global");
    }
    for ip in [
        "64:ff9b::808:808",
        "2001:1::1",
        "192.0.0.9",
        "2001:20::1",
        "8.8.8.8",
    ] {
        assert!(is_global(ip.parse().unwrap()), "{ip} counted as internal");
    }
}
