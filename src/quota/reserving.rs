//! A reservation on its way, and what happens to its unit when the request is dropped first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::{QuotaKey, QuotaStore, Reservation};
use crate::store::StoreError;

/// The store's reservation, awaited before the inner service is called.
///
/// The inner service is called in the same poll that reads the reservation, so this future is
/// the only place where a unit can be held while nothing inside was asked: a request dropped
/// here (the client went away, a timeout outside fired) gives its unit back. The store may
/// have taken it already (the memory store takes it when asked) or may take it on the way (a
/// script on Redis that ran while its answer was in flight), so the reservation is finished,
/// in the background if it has to wait, and a unit it took is refunded.
pub(super) struct Reserving<Q: QuotaStore> {
    reserve: Option<Q::Reserve>,
    key: QuotaKey,
    store: Arc<Q>,
}

impl<Q: QuotaStore> Reserving<Q> {
    pub(super) fn new(store: &Arc<Q>, key: QuotaKey, reserve: Q::Reserve) -> Self {
        Reserving {
            reserve: Some(reserve),
            key,
            store: Arc::clone(store),
        }
    }
}

impl<Q: QuotaStore> Future for Reserving<Q> {
    type Output = Result<Reservation, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let reserve = self
            .reserve
            .as_mut()
            .expect("a quota reservation was polled after completion");
        let answer = std::task::ready!(Pin::new(reserve).poll(cx));
        // Answered: from here the unit belongs to the call that reads it.
        self.reserve = None;
        Poll::Ready(answer)
    }
}

impl<Q: QuotaStore> Drop for Reserving<Q> {
    fn drop(&mut self) {
        let Some(mut reserve) = self.reserve.take() else {
            return;
        };
        let (store, key) = (Arc::clone(&self.store), self.key.clone());
        let give_back = move |answer: Result<Reservation, StoreError>| {
            if let Ok(Reservation::Reserved { .. }) = answer {
                store.refund(&key);
            }
        };
        // A store that answers at once is settled here, without a task.
        let mut context = Context::from_waker(Waker::noop());
        if let Poll::Ready(answer) = Pin::new(&mut reserve).poll(&mut context) {
            give_back(answer);
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { give_back(reserve.await) });
            }
            Err(_) => tracing::warn!(
                project = %self.key.project,
                operation = %self.key.operation,
                "a cancelled quota reservation was not finished: no tokio runtime to finish it in"
            ),
        }
    }
}
