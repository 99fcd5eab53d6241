use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use tracing::field::Empty;

use super::future::Check;
use super::key::{ByApiKey, KeyExtractor, RateKey};
use super::{RateLimitStore, ResponseFuture, SlidingWindowLimiter, SlidingWindowRateLimitLayer};
use crate::admission::{self, Admission};
use crate::auth::Principal;
use crate::body::ResponseBody;
use crate::rejection::is_grpc;
use crate::telemetry;

/// Limits each key to its requests per second and per minute, over sliding windows; refuses the
/// rest with 429 before they reach the inner service.
///
/// `S` is the inner service, `L` the store of the windows, `K` what chooses a request's windows.
pub struct SlidingWindowRateLimit<S, L = SlidingWindowLimiter, K = ByApiKey> {
    pub(super) inner: S,
    /// Behind one `Arc`: routers clone the service for every request, and one reference count
    /// is cheaper to move between cores than one per shared field.
    pub(super) layer: Arc<SlidingWindowRateLimitLayer<L, K>>,
}

impl<S, L: RateLimitStore, K> SlidingWindowRateLimit<S, L, K> {
    /// Wraps `inner`.
    pub fn new(inner: S, layer: SlidingWindowRateLimitLayer<L, K>) -> Self {
        SlidingWindowRateLimit {
            inner,
            layer: Arc::new(layer),
        }
    }

    crate::macros::define_inner_service_accessors!();
}

impl<S> SlidingWindowRateLimit<S> {
    /// A layer on an in-memory limiter.
    pub fn layer() -> SlidingWindowRateLimitLayer {
        SlidingWindowRateLimitLayer::new()
    }
}

impl<S: Clone, L, K> Clone for SlidingWindowRateLimit<S, L, K> {
    fn clone(&self) -> Self {
        SlidingWindowRateLimit {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<S: fmt::Debug, L, K> fmt::Debug for SlidingWindowRateLimit<S, L, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowRateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, L, K, ReqBody, ResBody> Service<Request<ReqBody>> for SlidingWindowRateLimit<S, L, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    L: RateLimitStore,
    K: KeyExtractor<ReqBody>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, L, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let span = telemetry::stage_span(|| {
            tracing::debug_span!("memorysync.limit", key_id = Empty, project = Empty)
        });
        let _entered = span.enter();
        let grpc = is_grpc(request.headers());
        if let Some(principal) = request.extensions().get::<Principal>() {
            principal.record_on(&span);
        }
        let answer = match self.layer.key.rate_key(&request, self.layer.limits) {
            RateKey::Limited { id, limits } => {
                self.layer.store.check(&id, limits, self.layer.clock.now())
            }
            RateKey::Exempt => {
                return ResponseFuture::new(Admission::passing(
                    self.inner.call(request),
                    span.clone(),
                ));
            }
            RateKey::Refused(rejection) => {
                return ResponseFuture::new(Admission::rejected(rejection, grpc, span.clone()));
            }
        };
        let inner = admission::take_ready(&mut self.inner);
        ResponseFuture::new(Admission::deciding(
            Check::new(),
            answer,
            inner,
            request,
            grpc,
            span.clone(),
        ))
    }
}
