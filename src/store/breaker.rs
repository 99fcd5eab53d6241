//! When to stop asking a shared store that does not answer, and when to ask it again.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{StoreError, StoreErrorPolicy};

/// How often a shared store that failed is tried again.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(250);

/// `opened_at` while the store answers.
const CLOSED: u64 = u64::MAX;

/// How many parts of a store may fail apart from each other: the hash slots of a Redis
/// Cluster. A store on one server uses part 0 only.
pub(crate) const SHARDS: usize = 16_384;

/// Whether a shared store is answering, and when to try it again while it is not.
///
/// Closed, every call goes to the store and the request waits for it. After a failure it
/// opens: requests stop asking the store and apply the policy at once, so an outage does not
/// cost each request a timeout. Every [`PROBE_EVERY`] one call is sent to the store in the
/// background (the request that sent it does not wait for it either); its success closes the
/// breaker. Under `deny` there is no answer to give instead, so the request that sends the
/// probe waits for it (at most one call timeout) and is served if the store is back; and a
/// probe the store refused at once, knowing it is still down, leaves the next one due, so the
/// first request after recovery is served. Times are tokio's, so paused-time tests drive it.
///
/// A store spread over several servers (a Redis Cluster) fails in parts: each call names its
/// part (the hash slot of its keys, see `RateLimitStore::outage_shard`), and each part opens
/// and closes on its own, so a master that is down sends only the requests of its slots to the
/// policy. The outage is logged once, when the first part opens and when the last closes.
#[derive(Debug)]
pub(crate) struct Breaker {
    what: &'static str,
    /// What `opened_at` counts from.
    base: Instant,
    /// Per part: milliseconds since `base` of the last failure or probe; `CLOSED` while
    /// answering.
    opened_at: Box<[AtomicU64]>,
    /// How many parts are open.
    open_parts: AtomicUsize,
}

/// What to do with one call.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// Closed: ask the store, and wait for it.
    Ask,
    /// Open, and a probe is due: ask the store in the background.
    Probe,
    /// Open: do not ask.
    Skip,
}

impl Breaker {
    /// A closed breaker; `what` names the store in the two log lines of an outage.
    pub(crate) fn new(what: &'static str) -> Self {
        Breaker {
            what,
            base: Instant::now(),
            opened_at: (0..SHARDS).map(|_| AtomicU64::new(CLOSED)).collect(),
            open_parts: AtomicUsize::new(0),
        }
    }

    /// Whether the last answer of some part of the shared store was a failure.
    pub(crate) fn is_open(&self) -> bool {
        self.open_parts.load(Ordering::Relaxed) > 0
    }

    /// Whether the last answer of part `shard` was a failure.
    pub(crate) fn is_open_for(&self, shard: usize) -> bool {
        self.part(shard).load(Ordering::Relaxed) != CLOSED
    }

    fn part(&self, shard: usize) -> &AtomicU64 {
        &self.opened_at[shard % SHARDS]
    }

    /// The call `call` makes, for the request to wait on while the breaker is closed. While it
    /// is open, `None`: the call is not made, or made as a background probe whose answer goes
    /// to `after_probe` (to give back what it took, say). Under `deny`, and outside a tokio
    /// runtime (nothing to run it in), a due probe is returned to be waited on.
    pub(crate) fn attempt<F, T>(
        self: &Arc<Self>,
        shard: usize,
        policy: StoreErrorPolicy,
        call: impl FnOnce() -> F,
        after_probe: impl FnOnce(&Result<T, StoreError>) + Send + 'static,
    ) -> Option<F>
    where
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        match self.route(shard) {
            Route::Ask => Some(call()),
            Route::Skip => None,
            Route::Probe if policy == StoreErrorPolicy::Deny => Some(call()),
            Route::Probe => {
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return Some(call());
                };
                let (probe, breaker) = (call(), Arc::clone(self));
                runtime.spawn(async move {
                    let answer = probe.await;
                    breaker.record(shard, policy, &answer);
                    after_probe(&answer);
                });
                None
            }
        }
    }

    /// The store's answer to a call from [`Breaker::attempt`], noted; a call not made is a
    /// failure that changes nothing.
    pub(crate) async fn answer<T>(
        &self,
        shard: usize,
        policy: StoreErrorPolicy,
        call: Option<impl Future<Output = Result<T, StoreError>>>,
    ) -> Result<T, StoreError> {
        let Some(call) = call else {
            return Err(StoreError::new(
                "not asked: the store failed and is being probed",
            ));
        };
        let answer = call.await;
        self.record(shard, policy, &answer);
        answer
    }

    fn route(&self, shard: usize) -> Route {
        let part = self.part(shard);
        let opened_at = part.load(Ordering::Relaxed);
        if opened_at == CLOSED {
            return Route::Ask;
        }
        let now = self.millis_now();
        let due = opened_at.saturating_add(PROBE_EVERY.as_millis() as u64);
        // One caller moves the probe time forward; that one probes.
        let won = now >= due
            && part
                .compare_exchange(opened_at, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if won { Route::Probe } else { Route::Skip }
    }

    /// Notes an answer; logs once when an outage starts and once when it ends.
    fn record<T>(&self, shard: usize, policy: StoreErrorPolicy, result: &Result<T, StoreError>) {
        let part = self.part(shard);
        match result {
            Ok(_) => {
                if part.swap(CLOSED, Ordering::Relaxed) != CLOSED
                    && self.open_parts.fetch_sub(1, Ordering::Relaxed) == 1
                {
                    tracing::info!(store = self.what, "shared store answers again");
                    crate::telemetry::store_unavailable(self.what, false);
                }
            }
            Err(error) => {
                let now = self.millis_now();
                let at = if policy == StoreErrorPolicy::Deny && error.is_known_outage() {
                    // Asking cost nothing: the next request may ask again.
                    now.saturating_sub(PROBE_EVERY.as_millis() as u64)
                } else {
                    now
                };
                if part.swap(at, Ordering::Relaxed) == CLOSED
                    && self.open_parts.fetch_add(1, Ordering::Relaxed) == 0
                {
                    tracing::warn!(store = self.what, %error, ?policy, "shared store unavailable; applying the policy");
                    crate::telemetry::store_unavailable(self.what, true);
                }
            }
        }
    }

    fn millis_now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(CLOSED - 1)
    }
}

#[cfg(test)]
mod tests {
    use std::future::ready;

    use super::*;

    const POLICY: StoreErrorPolicy = StoreErrorPolicy::Local;

    #[tokio::test(start_paused = true)]
    async fn an_open_breaker_probes_once_per_interval_in_the_background_and_a_success_closes_it() {
        let breaker = Arc::new(Breaker::new("test"));
        assert_eq!(
            [breaker.route(0), breaker.route(0)],
            [Route::Ask, Route::Ask]
        );
        let failed = breaker.attempt(
            0,
            POLICY,
            || ready(Err::<(), _>(StoreError::new("down"))),
            |_| {},
        );
        assert!(breaker.answer(0, POLICY, failed).await.is_err());
        assert!(breaker.is_open());
        assert!(
            breaker
                .attempt(0, POLICY, || ready(Ok(())), |_| {})
                .is_none(),
            "open: not asked"
        );

        tokio::time::advance(PROBE_EVERY).await;
        let (seen, probed) = tokio::sync::oneshot::channel();
        let probe = breaker.attempt(
            0,
            POLICY,
            || ready(Ok(7)),
            move |answer| {
                let _ = seen.send(answer.clone());
            },
        );
        assert!(probe.is_none(), "the request does not wait for the probe");
        assert_eq!(breaker.route(0), Route::Skip, "one probe per interval");
        assert_eq!(probed.await.unwrap(), Ok(7));
        assert!(!breaker.is_open(), "the probe's success closed it");
        assert_eq!(breaker.route(0), Route::Ask);
    }

    #[tokio::test(start_paused = true)]
    async fn a_part_that_fails_leaves_the_other_parts_asking_and_the_outage_ends_with_the_last() {
        let breaker = Arc::new(Breaker::new("test"));
        let down = || ready(Err::<(), _>(StoreError::new("down")));
        for shard in [7, 9] {
            let failed = breaker.attempt(shard, POLICY, down, |_| {});
            assert!(breaker.answer(shard, POLICY, failed).await.is_err());
        }
        assert!(breaker.is_open_for(7) && breaker.is_open_for(9));
        assert!(!breaker.is_open_for(8));
        assert_eq!(breaker.route(8), Route::Ask, "another part is still asked");
        assert_eq!(breaker.route(7), Route::Skip);

        tokio::time::advance(PROBE_EVERY).await;
        let probe = breaker.attempt(7, StoreErrorPolicy::Deny, || ready(Ok(())), |_| {});
        assert_eq!(
            breaker.answer(7, StoreErrorPolicy::Deny, probe).await,
            Ok(())
        );
        assert!(!breaker.is_open_for(7));
        assert!(breaker.is_open(), "part 9 is still open");
        let probe = breaker.attempt(9, StoreErrorPolicy::Deny, || ready(Ok(())), |_| {});
        assert_eq!(
            breaker.answer(9, StoreErrorPolicy::Deny, probe).await,
            Ok(())
        );
        assert!(
            !breaker.is_open(),
            "the last part closed: the outage is over"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn under_deny_a_due_probe_is_waited_for_and_a_known_outage_leaves_the_next_one_due() {
        const DENY: StoreErrorPolicy = StoreErrorPolicy::Deny;
        let breaker = Arc::new(Breaker::new("test"));
        let timed_out = breaker.attempt(
            0,
            DENY,
            || ready(Err::<(), _>(StoreError::new("timeout"))),
            |_| {},
        );
        assert!(breaker.answer(0, DENY, timed_out).await.is_err());
        assert_eq!(
            breaker.route(0),
            Route::Skip,
            "a timeout is not asked again at once"
        );

        tokio::time::advance(PROBE_EVERY).await;
        let refused = || ready(Err::<(), _>(StoreError::known_outage("still down")));
        let probe = breaker.attempt(0, DENY, refused, |_| {});
        assert!(
            probe.is_some(),
            "under deny the request waits for its probe"
        );
        assert!(breaker.answer(0, DENY, probe).await.is_err());
        let probe = breaker.attempt(0, DENY, || ready(Ok(())), |_| {});
        assert!(
            probe.is_some(),
            "a refusal that cost nothing leaves the next probe due"
        );
        assert_eq!(breaker.answer(0, DENY, probe).await, Ok(()));
        assert!(!breaker.is_open());
    }
}
