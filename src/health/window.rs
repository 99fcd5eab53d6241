//! The per-IP request window of `/health`.
//!
//! An exact sliding log: an address is admitted when fewer than `limit` of its requests fall in
//! the last second. The log holds at most `limit` instants per address, and addresses idle for a
//! whole window are dropped when the table fills, so memory stays bounded by `max_addresses`.

use std::collections::VecDeque;
use std::net::IpAddr;

use dashmap::DashMap;

use crate::clock::Timestamp;

const WINDOW_MILLIS: i64 = 1000;

#[derive(Debug)]
pub(super) struct PerIpWindow {
    limit: u32,
    max_addresses: usize,
    log_by_ip: DashMap<Option<IpAddr>, VecDeque<i64>>,
}

/// The window's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    Admitted,
    /// Refused; a retry is admitted in this many whole seconds (at least 1).
    Refused {
        retry_after_secs: u64,
    },
}

impl PerIpWindow {
    pub(super) fn new(limit: u32, max_addresses: usize) -> Self {
        PerIpWindow {
            limit,
            max_addresses,
            log_by_ip: DashMap::new(),
        }
    }

    /// Admits or refuses a request from `ip` at `now`. Clients whose address is unknown share one
    /// log: they are limited together rather than not at all.
    pub(super) fn admit(&self, ip: Option<IpAddr>, now: Timestamp) -> Admission {
        let now = now.unix_millis();
        if !self.log_by_ip.contains_key(&ip) && self.log_by_ip.len() >= self.max_addresses {
            self.evict_idle(now);
            if self.log_by_ip.len() >= self.max_addresses {
                // Every tracked address is active: refusing a newcomer is the only answer that
                // neither grows memory nor forgets a limit.
                return Admission::Refused {
                    retry_after_secs: 1,
                };
            }
        }
        let mut log = self.log_by_ip.entry(ip).or_default();
        // A clock that went backwards leaves instants "in the future" in the log: they still
        // count, so a jump back can never admit more than the limit.
        while log.front().is_some_and(|t| *t <= now - WINDOW_MILLIS) {
            log.pop_front();
        }
        if log.len() < self.limit as usize {
            log.push_back(now);
            return Admission::Admitted;
        }
        let oldest = log.front().copied().unwrap_or(now);
        let wait_millis = (oldest + WINDOW_MILLIS - now).max(1);
        Admission::Refused {
            retry_after_secs: u64::try_from((wait_millis + 999) / 1000)
                .unwrap_or(1)
                .max(1),
        }
    }

    fn evict_idle(&self, now: i64) {
        self.log_by_ip
            .retain(|_, log| log.back().is_some_and(|t| *t > now - WINDOW_MILLIS));
    }

    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
        self.log_by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(millis)
    }

    #[test]
    fn the_sixth_request_within_a_second_is_refused() {
        let window = PerIpWindow::new(5, 100);
        let ip = Some("1.2.3.4".parse().unwrap());
        for i in 0..5 {
            assert_eq!(window.admit(ip, at(1000 + i * 100)), Admission::Admitted);
        }
        assert_eq!(
            window.admit(ip, at(1999)),
            Admission::Refused {
                retry_after_secs: 1
            }
        );
        // One second after the first request, one slot is free again.
        assert_eq!(window.admit(ip, at(2000)), Admission::Admitted);
    }

    #[test]
    fn a_clock_going_backwards_admits_no_more_than_the_limit() {
        let window = PerIpWindow::new(2, 100);
        let ip = None;
        assert_eq!(window.admit(ip, at(10_000)), Admission::Admitted);
        assert_eq!(window.admit(ip, at(10_000)), Admission::Admitted);
        assert!(matches!(
            window.admit(ip, at(5_000)),
            Admission::Refused { .. }
        ));
    }

    #[test]
    fn the_table_never_grows_past_its_bound() {
        let window = PerIpWindow::new(5, 10);
        for i in 0..1000u32 {
            let ip = Some(IpAddr::from(i.to_be_bytes()));
            window.admit(ip, at(i64::from(i) * 10));
            assert!(window.tracked() <= 10);
        }
    }
}
