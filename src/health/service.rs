use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::future::report_response;
use super::layer::HealthRouteLayer;
use super::report::{OK_BODY, run_checks};
use crate::body::ResponseBody;
use crate::client_ip::{client_ip, peer_ip};
use crate::rejection::{Rejection, RejectionCode};
use crate::telemetry::{self, Stage};

/// Answers `GET /health` (and `HEAD`) itself, with no key, limited per client address; passes
/// every other request inward.
#[derive(Clone, Debug)]
pub struct HealthRoute<S> {
    inner: S,
    /// Behind one `Arc`: routers clone the service for every request, and one reference count
    /// is cheaper to move between cores than one per shared field.
    layer: Arc<HealthRouteLayer>,
}

impl<S> HealthRoute<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, layer: HealthRouteLayer) -> Self {
        HealthRoute {
            inner,
            layer: Arc::new(layer),
        }
    }

    /// The default layer.
    pub fn layer() -> HealthRouteLayer {
        HealthRouteLayer::new()
    }

    crate::macros::define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HealthRoute<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let span = telemetry::stage_span(|| tracing::debug_span!("memorysync.health"));
        let _entered = span.enter();
        let is_probe = (request.method() == Method::GET || request.method() == Method::HEAD)
            && request.uri().path() == &*self.layer.path;
        if !is_probe {
            return ResponseFuture::inner(self.inner.call(request), span.clone());
        }
        let layer = &self.layer;
        let peer = peer_ip(request.extensions());
        let client = client_ip(request.headers(), peer, &layer.trusted_proxies);
        let exempt = client.is_some_and(|ip| layer.exempt.iter().any(|net| net.contains(&ip)));
        // Clients whose address is unknown share one window: limited together, not unlimited.
        let decision =
            (!exempt).then(|| layer.limiter.check(client, layer.limits, layer.clock.now()));
        if let Some(decision) = decision.filter(|d| !d.admitted) {
            let rejection = Rejection::new(
                RejectionCode::HealthRateLimited,
                "too many health probes from this address; retry after the given seconds",
            )
            .with_retry_after(decision.retry_after_secs);
            telemetry::rejected(Stage::Health, rejection.code());
            return ResponseFuture::answered(rejection.into_response(false), span.clone());
        }
        telemetry::probe_answered();
        let head_only = request.method() == Method::HEAD;
        if layer.checks.is_empty() {
            let response = report_response(Bytes::from_static(OK_BODY), head_only);
            return ResponseFuture::answered(response, span.clone());
        }
        let report = Box::pin(run_checks(layer.checks.clone(), layer.check_timeout));
        ResponseFuture::checking(report, head_only, span.clone())
    }
}
