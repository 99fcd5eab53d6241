use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response, header};
use tower_service::Service;
use tracing::field::Empty;

use super::event::{MAX_PATH, MAX_USER_AGENT, sanitized};
use super::future::Started;
use super::request_id::request_id;
use super::{AuditLog, AuditRecordLayer, ResponseFuture};
use crate::client_ip::{client_ip, peer_ip};
use crate::telemetry;

/// Records one audit event per call, with its final outcome, including the rejections of the
/// stages inside it.
#[derive(Clone, Debug)]
pub struct AuditRecord<S> {
    pub(super) inner: S,
    pub(super) layer: AuditRecordLayer,
}

impl<S> AuditRecord<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, layer: AuditRecordLayer) -> Self {
        AuditRecord { inner, layer }
    }

    /// A layer that records into `log`.
    pub fn layer(log: AuditLog) -> AuditRecordLayer {
        AuditRecordLayer::new(log)
    }

    crate::macros::define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuditRecord<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let layer = &self.layer;
        let headers = request.headers();
        let (request_id, request_id_value) = request_id(headers);
        // The caller is known once the stages inside have answered; the future records it.
        let span = telemetry::stage_span(|| {
            tracing::debug_span!(
                "memorysync.audit",
                request_id = %request_id,
                key_id = Empty,
                project = Empty
            )
        });
        let _entered = span.enter();
        let started = Started {
            at: Instant::now(),
            ts: layer.clock.now(),
            request_id,
            request_id_value,
            method: request.method().as_str().to_owned(),
            // `path()` never includes the query string: `?api_key=...` stays out of the log.
            path: sanitized(request.uri().path().as_bytes(), MAX_PATH),
            client_ip: client_ip(
                headers,
                peer_ip(request.extensions()),
                &layer.trusted_proxies,
            ),
            user_agent: headers
                .get(header::USER_AGENT)
                .map(|ua| sanitized(ua.as_bytes(), MAX_USER_AGENT)),
        };
        if let Some(hand) = &layer.hand_to_handlers {
            hand(request.extensions_mut());
        }
        let future = self.inner.call(request);
        ResponseFuture::new(future, started, layer.log.clone(), span.clone())
    }
}
