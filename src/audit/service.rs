use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response, header};
use tower_service::Service;
use tracing::field::Empty;

use super::event::{MAX_PATH, MAX_USER_AGENT, sanitized};
use super::future::Started;
use super::request_id::{X_REQUEST_ID, request_id};
use super::{AuditLog, AuditRecordLayer, ResponseFuture};
use crate::client_ip::{client_ip, peer_ip};
use crate::telemetry;

/// Records one audit event per call, with its final outcome, including the rejections of the
/// stages inside it.
#[derive(Clone, Debug)]
pub struct AuditRecord<S> {
    pub(super) inner: S,
    /// Behind one `Arc`: routers clone the service for every request, and one reference count
    /// is cheaper to move between cores than one per shared field.
    pub(super) layer: Arc<AuditRecordLayer>,
}

impl<S> AuditRecord<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, layer: AuditRecordLayer) -> Self {
        AuditRecord {
            inner,
            layer: Arc::new(layer),
        }
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
        // The id the event records is the one every service inside (and a proxy's upstream)
        // reads: a generated id replaces the client's malformed or repeated ones.
        let value = started.request_id_value.clone();
        request.headers_mut().insert(X_REQUEST_ID, value);
        if let Some(hand) = &layer.hand_to_handlers {
            hand(request.extensions_mut());
        }
        let future = self.inner.call(request);
        ResponseFuture::new(future, started, Arc::clone(layer), span.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use http::HeaderValue;
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::audit::{AuditLogConfig, MemoryAuditSink};

    /// What the inner service saw as `X-Request-Id`, what the client got back, what the log
    /// recorded, for a request sending `sent`.
    async fn ids_of(sent: &[&'static str]) -> (Vec<String>, String, String) {
        let sink = MemoryAuditSink::new();
        let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).expect("a memory log");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let inner_seen = Arc::clone(&seen);
        let inner = service_fn(move |request: Request<()>| {
            let ids = request.headers().get_all(X_REQUEST_ID).iter();
            let ids = ids.map(|v| v.to_str().unwrap_or("?").to_owned()).collect();
            *inner_seen.lock().expect("not poisoned") = ids;
            async { Ok::<_, Infallible>(Response::new(())) }
        });
        let mut request = Request::get("/v1/memories").body(()).expect("a request");
        for id in sent {
            let value = HeaderValue::from_static(id);
            request.headers_mut().append(X_REQUEST_ID, value);
        }
        let service = AuditRecord::new(inner, AuditRecordLayer::new(log.clone()));
        let response = service.oneshot(request).await.expect("infallible");
        let echoed = response.headers()[X_REQUEST_ID].to_str().expect("ascii");
        log.flush().await;
        let line: serde_json::Value = serde_json::from_str(&sink.lines()[0]).expect("a JSON line");
        let recorded = line["request_id"]
            .as_str()
            .expect("a request id")
            .to_owned();
        let seen = seen.lock().expect("not poisoned").clone();
        (seen, echoed.to_owned(), recorded)
    }

    #[tokio::test]
    async fn the_inner_service_sees_the_id_the_log_records() {
        let (seen, echoed, recorded) = ids_of(&["client-id-1"]).await;
        assert_eq!(
            (seen, echoed.as_str()),
            (vec!["client-id-1".to_owned()], "client-id-1")
        );
        assert_eq!(recorded, "client-id-1");
        // None, a malformed one, two: one generated id, the same inside, back and in the log.
        for sent in [&[][..], &["has space"], &["one", "two"]] {
            let (seen, echoed, recorded) = ids_of(sent).await;
            assert!(recorded.starts_with("req_"), "{sent:?}: {recorded}");
            assert_eq!(seen, vec![recorded.clone()], "{sent:?}");
            assert_eq!(echoed, recorded, "{sent:?}");
        }
    }
}
