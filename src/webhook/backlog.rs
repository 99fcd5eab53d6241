//! Deliveries published but not yet taken by the queue, held by the worker, and when to offer
//! them again after the queue refused one.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::Delivery;

/// The first wait after the queue refuses a delivery.
pub(super) const FIRST_RETRY: Duration = Duration::from_millis(50);
/// The longest wait between two offers: an outage costs one push a second, and the queue's
/// return is noticed within a second.
pub(super) const LONGEST_RETRY: Duration = Duration::from_secs(1);

/// The longest the worker spends offering the backlog before it looks at its other work (a
/// large backlog after an outage, a slow queue), and comes back at once.
pub(super) const OFFER_SLICE: Duration = Duration::from_millis(100);

/// The deliveries the worker still has to put into the queue, oldest first, with the back-off
/// that spaces the offers while the queue refuses them.
#[derive(Debug)]
pub(super) struct Backlog {
    waiting: VecDeque<Delivery>,
    /// The wait after the next refusal.
    next_wait: Duration,
    /// Not before this instant is the queue offered a delivery again; `None` while it takes them.
    retry_at: Option<Instant>,
}

impl Backlog {
    pub(super) fn new() -> Self {
        Backlog {
            waiting: VecDeque::new(),
            next_wait: FIRST_RETRY,
            retry_at: None,
        }
    }

    pub(super) fn add(&mut self, delivery: Delivery) {
        self.waiting.push_back(delivery);
    }

    pub(super) fn extend(&mut self, deliveries: impl IntoIterator<Item = Delivery>) {
        self.waiting.extend(deliveries);
    }

    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// The oldest delivery, to offer to the queue.
    pub(super) fn front(&self) -> Option<&Delivery> {
        self.waiting.front()
    }

    /// The queue took the oldest delivery.
    pub(super) fn taken(&mut self) {
        self.waiting.pop_front();
    }

    /// Whether a delivery waits and the back-off allows an offer at `now`.
    pub(super) fn is_due(&self, now: Instant) -> bool {
        !self.waiting.is_empty() && self.retry_at.is_none_or(|at| at <= now)
    }

    /// When the next offer is due, while the queue refuses.
    pub(super) fn retry_at(&self) -> Option<Instant> {
        self.retry_at.filter(|_| !self.waiting.is_empty())
    }

    /// Whether the queue refused the last offer.
    pub(super) fn is_refused(&self) -> bool {
        self.retry_at.is_some()
    }

    /// The queue refused a delivery at `now`: wait, twice as long each time up to
    /// [`LONGEST_RETRY`].
    pub(super) fn refused(&mut self, now: Instant) {
        self.retry_at = Some(now + self.next_wait);
        self.next_wait = (self.next_wait * 2).min(LONGEST_RETRY);
    }

    /// The queue took everything offered: the next refusal starts the back-off afresh.
    pub(super) fn accepted(&mut self) {
        self.retry_at = None;
        self.next_wait = FIRST_RETRY;
    }

    /// Everything still waiting, oldest first.
    pub(super) fn take_all(&mut self) -> Vec<Delivery> {
        self.waiting.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Timestamp;

    fn delivery(n: u32) -> Delivery {
        Delivery {
            id: format!("msg_{n}").into(),
            endpoint: None,
            url: "http://127.0.0.1/hook".into(),
            event_type: "quota.threshold".into(),
            body: bytes::Bytes::new(),
            created_at: Timestamp::from_unix_millis(0),
            attempts: 0,
            due_at: Timestamp::from_unix_millis(0),
        }
    }

    #[test]
    fn refusals_double_the_wait_up_to_a_second_and_an_acceptance_resets_it() {
        let start = Instant::now();
        let mut backlog = Backlog::new();
        assert!(!backlog.is_due(start), "nothing waits");
        backlog.add(delivery(1));
        assert!(backlog.is_due(start));
        let mut waits = Vec::new();
        let mut now = start;
        for _ in 0..7 {
            backlog.refused(now);
            let at = backlog.retry_at().expect("a retry is scheduled");
            assert!(!backlog.is_due(at - Duration::from_millis(1)));
            assert!(backlog.is_due(at));
            waits.push((at - now).as_millis());
            now = at;
        }
        assert_eq!(waits, [50, 100, 200, 400, 800, 1000, 1000]);
        backlog.accepted();
        assert!(!backlog.is_refused());
        backlog.refused(now);
        assert_eq!(backlog.retry_at(), Some(now + FIRST_RETRY));
    }

    #[test]
    fn deliveries_leave_oldest_first() {
        let mut backlog = Backlog::new();
        backlog.extend([delivery(1), delivery(2)]);
        backlog.add(delivery(3));
        assert_eq!(backlog.front().map(|d| &*d.id), Some("msg_1"));
        backlog.taken();
        assert_eq!(backlog.len(), 2);
        let rest: Vec<_> = backlog.take_all().into_iter().map(|d| d.id).collect();
        assert_eq!(rest, [Arc::from("msg_2"), Arc::from("msg_3")]);
        assert_eq!(backlog.retry_at(), None);
    }
}
