//! What the rate limiter does while its shared store does not answer: the configured
//! [`StoreErrorPolicy`], through [`WithFallback`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Decision, Limits, RateLimitStore, SlidingWindowLimiter};
use crate::clock::Timestamp;
use crate::store::fallback::by_policy;
use crate::store::{StoreError, WithFallback};

impl<S: RateLimitStore> RateLimitStore for WithFallback<S, SlidingWindowLimiter> {
    type Check = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

    fn check(&self, key_id: &str, limits: Limits, now: Timestamp) -> Self::Check {
        let shard = self.primary.outage_shard(key_id);
        let primary = self.breaker.attempt(
            shard,
            self.policy,
            || self.primary.check(key_id, limits, now),
            // A probe's admission stays counted in the shared window: at worst one request
            // more is counted for this key there, which errs on the strict side.
            |_| {},
        );
        let (local, policy, breaker) = (
            Arc::clone(&self.local),
            self.policy,
            Arc::clone(&self.breaker),
        );
        let key_id = key_id.to_owned();
        Box::pin(async move {
            let answer = breaker.answer(shard, policy, primary).await;
            let local = || std::future::ready(Ok(local.check(key_id.as_str(), limits, now)));
            by_policy(answer, policy, local, || Decision::UNLIMITED).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};

    use super::*;
    use crate::store::StoreErrorPolicy;

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
        let local: WithFallback<_, SlidingWindowLimiter> =
            WithFallback::new(Down, StoreErrorPolicy::Local);
        let admitted: Vec<bool> = [(); 3]
            .iter()
            .map(|_| ready_now(local.check("k", limits, now)).admitted)
            .collect();
        assert_eq!(admitted, [true, true, false], "local limits apply");
        assert!(local.is_failing());
        let allow: WithFallback<_, SlidingWindowLimiter> =
            WithFallback::new(Down, StoreErrorPolicy::Allow);
        assert!((0..5).all(|_| ready_now(allow.check("k", limits, now)).admitted));
        let deny: WithFallback<_, SlidingWindowLimiter> =
            WithFallback::new(Down, StoreErrorPolicy::Deny);
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
