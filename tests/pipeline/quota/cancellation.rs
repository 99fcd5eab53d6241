//! Cancellation: a request dropped before the inner service was called gives its unit back
//! (nothing can have been stored); once the inner service was called, a dropped request keeps
//! it (the handler may have stored).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use super::*;

/// Polls `future` once, without a task to wake.
fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// A memory store whose reservations take their unit at once and then wait for `release`,
/// like a network store whose answer is on its way back.
#[derive(Clone, Default)]
struct Slow {
    counters: MemoryQuotaStore,
    release: Arc<Notify>,
}

impl QuotaStore for Slow {
    type Reserve = Pin<
        Box<
            dyn Future<Output = Result<Reservation, memorysync_pipeline::store::StoreError>> + Send,
        >,
    >;

    fn reserve(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Self::Reserve {
        let (counters, release, key) = (self.counters.clone(), self.release.clone(), key.clone());
        Box::pin(async move {
            let answer = counters.reserve(&key, limit, thresholds).await;
            release.notified().await;
            answer
        })
    }

    fn refund(&self, key: &QuotaKey) {
        self.counters.refund(key);
    }

    fn used(
        &self,
        key: &QuotaKey,
    ) -> impl Future<Output = Result<u64, memorysync_pipeline::store::StoreError>> + Send {
        self.counters.used(key)
    }
}

/// The memory store reserves when asked: a response future dropped before its first poll
/// held a unit that no request would ever use.
#[tokio::test]
async fn a_request_dropped_before_the_inner_service_was_called_gives_its_unit_back() {
    let quota = Quota::new(1, 100);
    let mut service = quota.layer.layer(quota.backend.service());
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .unwrap();
    drop(service.call(add()));
    assert_eq!(quota.backend.calls(), 0);
    assert_eq!(quota.used(Operation::Add).await, 0, "the unit came back");
    quota.assert_served(add()).await;
}

#[tokio::test]
async fn a_request_dropped_while_its_reservation_is_on_the_way_back_gives_its_unit_back() {
    let store = Slow::default();
    let plans = QuotaPlans::new().with_plan(PROJECT, Plan::new(1, 100));
    let clock = ManualClock::new(T0);
    let layer = QuotaDegradeLayer::from_store(plans, store.clone()).with_clock(clock.clone());
    let backend = Backend::new();
    let counter = key(PROJECT, Operation::Add, Month::of(clock.now()));

    let mut service = layer.layer(backend.service());
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .unwrap();
    {
        let mut future = pin!(service.call(add()));
        assert!(poll_once(future.as_mut()).is_pending());
        assert_eq!(
            store.counters.used(&counter).await,
            Ok(1),
            "reserved, not answered"
        );
    }
    assert_eq!(backend.calls(), 0);
    // The answer arrives after the request is gone; the unit it took goes back.
    store.release.notify_one();
    for _ in 0..100 {
        if store.counters.used(&counter).await == Ok(0) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(store.counters.used(&counter).await, Ok(0));
}

#[tokio::test]
async fn a_request_dropped_once_the_inner_service_was_called_keeps_its_unit() {
    let quota = Quota::new(1, 100);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    // A handler that is still storing when the client goes away.
    let storing = service_fn(move |_: Request<String>| {
        counted.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<Result<Response<Full<Bytes>>, Boom>>()
    });
    let mut service = quota.layer.layer(storing);
    {
        let mut future = pin!(service.call(add()));
        assert!(poll_once(future.as_mut()).is_pending());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the handler was called");
    }
    assert_eq!(quota.used(Operation::Add).await, 1, "it may have stored");
    quota.assert_degraded(add(), Operation::Add).await;
}
