//! The per-address window of the health route, built so that a flood of addresses cannot
//! starve a steady prober: an address keeps its own window while it keeps probing, newcomers
//! beyond the table's bound share one overflow window instead of being refused, and IPv6
//! clients are counted per /64 (one host can hold a whole /64).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::DashMap;

use crate::clock::Timestamp;
use crate::limit::{Decision, Limits, SlidingWindowLimiter};

/// How long an address keeps its own window after its last probe: longer than any load
/// balancer's probe interval (the longest common one is 300 s), so a prober is never dropped
/// between two probes.
const KEEP_MS: i64 = 10 * 60_000;
/// How often a full table may look for addresses to drop: a flood must not turn every probe
/// into a scan of the table.
const SWEEP_EVERY_MS: i64 = 1_000;

/// Whose window a probe counts in.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Client {
    /// The server did not record the peer: all such probes share one window.
    Unknown,
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
    /// Addresses that arrived while the table was full.
    Overflow,
}

impl Client {
    fn of(ip: Option<IpAddr>) -> Self {
        match ip.map(|ip| ip.to_canonical()) {
            None => Client::Unknown,
            Some(IpAddr::V4(v4)) => Client::V4(v4),
            Some(IpAddr::V6(v6)) => Client::V6((v6.to_bits() >> 64) as u64),
        }
    }
}

/// Per-client sliding windows over a bounded table of clients.
#[derive(Debug)]
pub(super) struct HealthLimiter {
    windows: SlidingWindowLimiter,
    /// The clients with a window of their own, and when each last probed.
    tracked: DashMap<Client, i64>,
    max_tracked: usize,
    last_sweep_ms: AtomicI64,
}

impl HealthLimiter {
    pub(super) fn new(max_tracked: usize) -> Self {
        HealthLimiter {
            // Room for every tracked client, the two shared windows, and the windows of clients
            // just dropped (idle, so the limiter's own sweep removes them within a minute): the
            // windows never refuse a tracked client for want of room.
            windows: SlidingWindowLimiter::new(max_tracked.saturating_mul(2).saturating_add(2)),
            tracked: DashMap::new(),
            max_tracked,
            last_sweep_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Admits or refuses one probe from `ip` at `now`.
    pub(super) fn check(&self, ip: Option<IpAddr>, limits: Limits, now: Timestamp) -> Decision {
        let client = self.slot(Client::of(ip), now.unix_millis());
        let decision = self.windows.check(&client, limits, now);
        if decision.at_capacity {
            return self.windows.check(&Client::Overflow, limits, now);
        }
        decision
    }

    /// The window `client` counts in: its own when it has one or there is room for one, else
    /// the overflow window.
    fn slot(&self, client: Client, now_ms: i64) -> Client {
        if client == Client::Unknown {
            return client;
        }
        if let Some(mut last) = self.tracked.get_mut(&client) {
            *last = (*last).max(now_ms);
            return client;
        }
        if self.tracked.len() >= self.max_tracked {
            self.sweep_if_due(now_ms);
            if self.tracked.len() >= self.max_tracked {
                return Client::Overflow;
            }
        }
        self.tracked.entry(client).or_insert(now_ms);
        client
    }

    /// Drops clients that have not probed for [`KEEP_MS`], at most once per second. Only time
    /// drops a client: never the arrival of others.
    fn sweep_if_due(&self, now_ms: i64) {
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < SWEEP_EVERY_MS {
            return;
        }
        if self
            .last_sweep_ms
            .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.tracked
                .retain(|_, seen| now_ms.saturating_sub(*seen) < KEEP_MS);
        }
    }

    /// How many clients have a window of their own.
    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
        self.tracked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits::new(Some(5), None);

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + ms)
    }

    #[test]
    fn ipv6_clients_share_a_window_per_64() {
        let limiter = HealthLimiter::new(16);
        let host = |n: u16| Some(IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, n]));
        for n in 0..5 {
            assert!(limiter.check(host(n), LIMITS, at(0)).admitted);
        }
        assert!(!limiter.check(host(99), LIMITS, at(0)).admitted);
        let other = Some(IpAddr::from([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1]));
        assert!(limiter.check(other, LIMITS, at(0)).admitted);
        assert_eq!(limiter.tracked(), 2);
    }

    #[test]
    fn a_full_table_sends_newcomers_to_one_shared_window_and_frees_idle_clients_in_time() {
        let limiter = HealthLimiter::new(2);
        let v4 = |n: u8| Some(IpAddr::from([198, 51, 100, n]));
        assert!(limiter.check(v4(1), LIMITS, at(0)).admitted);
        assert!(limiter.check(v4(2), LIMITS, at(0)).admitted);
        for n in 10..15 {
            assert!(limiter.check(v4(n), LIMITS, at(0)).admitted, "newcomer {n}");
        }
        assert!(!limiter.check(v4(15), LIMITS, at(0)).admitted);
        assert!(limiter.check(v4(1), LIMITS, at(0)).admitted);
        assert_eq!(limiter.tracked(), 2);
        // Client 1 keeps probing; client 2 goes quiet and leaves room after KEEP_MS.
        assert!(limiter.check(v4(1), LIMITS, at(KEEP_MS - 1)).admitted);
        assert!(limiter.check(v4(20), LIMITS, at(KEEP_MS + 1)).admitted);
        assert_eq!(limiter.tracked(), 2);
        assert!(limiter.check(v4(1), LIMITS, at(KEEP_MS + 2)).admitted);
    }
}
