//! Choosing a backend at run time without boxing the in-memory path.
//!
//! Each store of a deployment is an enum over its backends (as svix's `enum Cache`), and a
//! request-path call answers with [`BackendFuture`], an enum of two arms: the in-memory arm
//! holds a `Ready` inline, so choosing at run time costs a match, not an allocation. The Redis
//! stores' futures are boxed already (their fallback wraps them), and the shared arm holds that
//! box. The embedded stores answer from memory too and use the same two arms, so no third arm
//! is needed: the memory arm for every answer from memory, the shared arm (boxed) only for a
//! quota request that waits on the disk for its next block.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::store::StoreError;

/// The future of a Redis-backed store call: the type its fallback wrapper returns.
pub(crate) type BoxedStoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

pin_project! {
    /// The future of a deployment store's request-path call: an answer from memory (the memory
    /// backend, or the embedded store's memory), or one that waits on a store outside it
    /// (Redis, or the embedded store's disk).
    #[project = BackendProjection]
    #[derive(Debug)]
    // pin-project-lite takes no doc comments on an enum's fields: each is its arm's future.
    #[allow(missing_docs)]
    pub enum BackendFuture<M, S> {
        /// Answered from memory.
        Memory {
            #[pin]
            future: M,
        },
        /// Answered by a store outside memory: Redis, or the embedded database's disk.
        Shared {
            #[pin]
            future: S,
        },
    }
}

impl<M, S> Future for BackendFuture<M, S>
where
    M: Future,
    S: Future<Output = M::Output>,
{
    type Output = M::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            BackendProjection::Memory { future } => future.poll(cx),
            BackendProjection::Shared { future } => future.poll(cx),
        }
    }
}

/// Runs `$body` with `$store` bound to whichever backend `$value` holds. Every deployment store
/// but the rate-limit windows has the variants `Memory` and, with their features, `Redis` and
/// `Embedded`.
macro_rules! on_backend {
    ($value:expr, $store:ident => $body:expr) => {
        match $value {
            Self::Memory($store) => $body,
            #[cfg(feature = "redis")]
            Self::Redis($store) => $body,
            #[cfg(feature = "embedded")]
            Self::Embedded($store) => $body,
        }
    };
}

/// Like [`on_backend!`], for a request-path call whose two futures differ: wraps each in its
/// [`BackendFuture`] arm.
macro_rules! backend_future {
    ($value:expr, $store:ident => $call:expr) => {
        match $value {
            Self::Memory($store) => $crate::deployment::BackendFuture::Memory { future: $call },
            #[cfg(feature = "redis")]
            Self::Redis($store) => $crate::deployment::BackendFuture::Shared { future: $call },
            // The embedded stores answer with a `BackendFuture` already.
            #[cfg(feature = "embedded")]
            Self::Embedded($store) => $call,
        }
    };
}

pub(crate) use {backend_future, on_backend};
