//! The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and their later entries,
//! as of 2025), reduced to what the SSRF guard needs: each block and whether the registry marks
//! it "Globally Reachable: True". Entries nest (`192.0.0.9/32` inside `192.0.0.0/24`); the most
//! specific block holding an address decides. "N/A" and deprecated entries count as not global.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `(block, prefix length, globally reachable)`.
type Entry<A> = (A, u8, bool);

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, global: bool) -> Entry<Ipv4Addr> {
    (Ipv4Addr::new(a, b, c, d), len, global)
}

const fn v6(s: [u16; 8], len: u8, global: bool) -> Entry<Ipv6Addr> {
    let [a, b, c, d, e, f, g, h] = s;
    (Ipv6Addr::new(a, b, c, d, e, f, g, h), len, global)
}

/// The IPv4 registry.
const IPV4: [Entry<Ipv4Addr>; 26] = [
    v4(0, 0, 0, 0, 8, false),          // "This network"
    v4(0, 0, 0, 0, 32, false),         // "This host on this network"
    v4(10, 0, 0, 0, 8, false),         // Private-Use
    v4(100, 64, 0, 0, 10, false),      // Shared Address Space
    v4(127, 0, 0, 0, 8, false),        // Loopback
    v4(169, 254, 0, 0, 16, false),     // Link Local
    v4(172, 16, 0, 0, 12, false),      // Private-Use
    v4(192, 0, 0, 0, 24, false),       // IETF Protocol Assignments
    v4(192, 0, 0, 0, 29, false),       // IPv4 Service Continuity Prefix
    v4(192, 0, 0, 8, 32, false),       // IPv4 dummy address
    v4(192, 0, 0, 9, 32, true),        // Port Control Protocol Anycast
    v4(192, 0, 0, 10, 32, true),       // Traversal Using Relays around NAT Anycast
    v4(192, 0, 0, 170, 32, false),     // NAT64/DNS64 Discovery
    v4(192, 0, 0, 171, 32, false),     // NAT64/DNS64 Discovery
    v4(192, 0, 2, 0, 24, false),       // Documentation (TEST-NET-1)
    v4(192, 31, 196, 0, 24, true),     // AS112-v4
    v4(192, 52, 193, 0, 24, true),     // AMT
    v4(192, 88, 99, 0, 24, false),     // Deprecated (6to4 Relay Anycast)
    v4(192, 88, 99, 2, 32, false),     // 6a44-relay anycast address
    v4(192, 168, 0, 0, 16, false),     // Private-Use
    v4(192, 175, 48, 0, 24, true),     // Direct Delegation AS112 Service
    v4(198, 18, 0, 0, 15, false),      // Benchmarking
    v4(198, 51, 100, 0, 24, false),    // Documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24, false),     // Documentation (TEST-NET-3)
    v4(240, 0, 0, 0, 4, false),        // Reserved
    v4(255, 255, 255, 255, 32, false), // Limited Broadcast
];

/// The IPv6 registry.
const IPV6: [Entry<Ipv6Addr>; 25] = [
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, false), // Loopback Address
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, false), // Unspecified Address
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, false), // IPv4-mapped Address
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, true), // IPv4-IPv6 Translat.
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, false), // IPv4-IPv6 Translat. (local use)
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, false), // Discard-Only Address Block
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, false), // Dummy IPv6 Prefix
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, false), // IETF Protocol Assignments
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, false), // TEREDO (N/A)
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, true), // Port Control Protocol Anycast
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, true), // TURN Anycast
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, true), // DNS-SD SRP Anycast
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, false), // Benchmarking
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, true), // AMT
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, true), // AS112-v6
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, false), // Deprecated (previously ORCHID)
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, true), // ORCHIDv2
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, true), // Drone Remote ID (DETs)
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, false), // Documentation
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, false), // 6to4 (N/A)
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, true), // Direct Delegation AS112 Service
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, false), // Documentation
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, false), // Segment Routing (SRv6) SIDs
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, false), // Unique-Local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, false), // Link-Local Unicast
];

/// The "Globally Reachable" flag of the most specific IPv4 entry holding `ip`, if any.
pub(super) fn ipv4_entry(ip: Ipv4Addr) -> Option<bool> {
    most_specific(&IPV4, |(block, len, _)| {
        within(
            u128::from(ip.to_bits()),
            u128::from(block.to_bits()),
            *len,
            32,
        )
    })
}

/// The "Globally Reachable" flag of the most specific IPv6 entry holding `ip`, if any.
pub(super) fn ipv6_entry(ip: Ipv6Addr) -> Option<bool> {
    most_specific(&IPV6, |(block, len, _)| {
        within(ip.to_bits(), block.to_bits(), *len, 128)
    })
}

fn most_specific<A>(table: &[Entry<A>], holds: impl Fn(&Entry<A>) -> bool) -> Option<bool> {
    table
        .iter()
        .filter(|entry| holds(entry))
        .max_by_key(|(_, len, _)| *len)
        .map(|(_, _, global)| *global)
}

/// Whether the first `len` of `width` bits of `ip` and `block` agree.
fn within(ip: u128, block: u128, len: u8, width: u32) -> bool {
    let shift = width - u32::from(len);
    ip.checked_shr(shift).unwrap_or(0) == block.checked_shr(shift).unwrap_or(0)
}
