//! What the rate limiter does while its shared store does not answer: the configured
//! [`StoreErrorPolicy`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Decision, Limits, RateLimitStore, SlidingWindowLimiter};
use crate::clock::Timestamp;
use crate::config::StoreErrorPolicy;
use crate::store::StoreError;

/// A shared store with a policy for its outages: `local` decides on a per-instance in-memory
/// limiter meanwhile (the default), `allow` admits, `deny` refuses (503 `store_unavailable`).
/// It recovers by itself: every decision tries the shared store first.
#[derive(Debug)]
pub struct WithFallback<S> {
    primary: Arc<S>,
    local: Arc<SlidingWindowLimiter>,
    policy: StoreErrorPolicy,
    failing: Arc<AtomicBool>,
}

impl<S: RateLimitStore> WithFallback<S> {
    /// `primary` with `policy`.
    pub fn new(primary: S, policy: StoreErrorPolicy) -> Self {
        WithFallback {
            primary: Arc::new(primary),
            local: Arc::new(SlidingWindowLimiter::default()),
            policy,
            failing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the last decision found the shared store unavailable.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

impl<S: RateLimitStore> RateLimitStore for WithFallback<S> {
    type Check = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

    fn check(&self, key_id: &str, limits: Limits, now: Timestamp) -> Self::Check {
        let primary = self.primary.check(key_id, limits, now);
        let (local, policy, failing) = (self.local.clone(), self.policy, self.failing.clone());
        let key_id = key_id.to_owned();
        // Boxed: this wrapper only stands in front of a network store.
        Box::pin(async move {
            match primary.await {
                Ok(decision) => {
                    failing.store(false, Ordering::Relaxed);
                    Ok(decision)
                }
                Err(error) => {
                    if !failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(%error, ?policy, "rate-limit store unavailable; applying the policy");
                    }
                    match policy {
                        StoreErrorPolicy::Local => Ok(local.check(key_id.as_str(), limits, now)),
                        StoreErrorPolicy::Allow => Ok(Decision::UNLIMITED),
                        StoreErrorPolicy::Deny => Err(error),
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};

    use super::*;

    struct Down;

    impl RateLimitStore for Down {
        type Check = Ready<Result<Decision, StoreError>>;
        fn check(&self, _: &str, _: Limits, _: Timestamp) -> Self::Check {
            ready(Err(StoreError::new("down")))
        }
    }

    #[tokio::test]
    async fn each_policy_does_what_it_says_while_the_store_is_down() {
        let limits = Limits::new(Some(2), None);
        let now = Timestamp::from_unix_secs(1_800_000_000);
        let local = WithFallback::new(Down, StoreErrorPolicy::Local);
        let admitted: Vec<bool> = [(); 3]
            .iter()
            .map(|_| ready_now(local.check("k", limits, now)).admitted)
            .collect();
        assert_eq!(admitted, [true, true, false], "local limits apply");
        assert!(local.is_failing());
        let allow = WithFallback::new(Down, StoreErrorPolicy::Allow);
        assert!((0..5).all(|_| ready_now(allow.check("k", limits, now)).admitted));
        let deny = WithFallback::new(Down, StoreErrorPolicy::Deny);
        assert!(deny.check("k", limits, now).await.is_err());
    }

    /// The decision of a check that is ready at once (the stores here never wait).
    fn ready_now(
        mut check: Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>,
    ) -> Decision {
        let waker = std::task::Waker::noop();
        match check
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            std::task::Poll::Ready(decision) => decision.unwrap(),
            std::task::Poll::Pending => panic!("a ready store answered later"),
        }
    }
}
