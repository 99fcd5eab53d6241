//! When a failed delivery is tried again.

use std::time::Duration;

use http::HeaderMap;

/// The attempts of one delivery and how long a receiver may take.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// The wait before each attempt: the first is immediate.
    pub delays: Vec<Duration>,
    /// Each wait is moved by up to this fraction either way, so retries of many messages do not
    /// arrive together.
    pub jitter: f64,
    /// How long one attempt may take.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; ±20% jitter; 15 s per attempt.
    fn default() -> Self {
        let secs = Duration::from_secs;
        RetryPolicy {
            delays: vec![
                secs(0),
                secs(5),
                secs(5 * 60),
                secs(30 * 60),
                secs(2 * 3600),
                secs(5 * 3600),
                secs(10 * 3600),
                secs(10 * 3600),
            ],
            jitter: 0.2,
            request_timeout: secs(15),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` have failed, or `None` when they are
    /// used up. `retry_after` (the receiver's `Retry-After`) is honoured within
    /// `[delay, 2 × delay]`: a receiver may slow us down, not hold a message for days.
    pub fn next_delay(&self, attempts: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let planned = *self.delays.get(usize::try_from(attempts).ok()?)?;
        let jittered = planned.mul_f64(1.0 + self.jitter * (2.0 * random_unit() - 1.0));
        Some(match retry_after {
            Some(asked) => asked.clamp(planned, planned * 2),
            None => jittered,
        })
    }
}

/// A uniform number in [0, 1).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    // Without randomness the schedule is simply unjittered.
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// A `Retry-After` of whole seconds (an HTTP date is ignored: receivers that slow us down send
/// seconds in practice, and a date needs a trustworthy clock on both sides).
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_jittered_within_twenty_percent_and_ends() {
        let policy = RetryPolicy::default();
        for _ in 0..200 {
            let delay = policy.next_delay(2, None).unwrap();
            assert!(
                delay >= Duration::from_secs(240) && delay <= Duration::from_secs(360),
                "{delay:?}"
            );
        }
        assert_eq!(policy.next_delay(0, None), Some(Duration::ZERO));
        assert_eq!(policy.next_delay(8, None), None);
    }

    #[test]
    fn retry_after_is_honoured_between_the_delay_and_twice_it() {
        let policy = RetryPolicy::default();
        let five = Duration::from_secs(5);
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(1))),
            Some(five)
        );
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(3600))),
            Some(five * 2)
        );
    }
}
