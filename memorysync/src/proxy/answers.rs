//! The proxy's own answers, when the upstream's cannot be passed back.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Empty;
use memorysync_pipeline::quota::MayHaveStored;
use memorysync_pipeline::rejection::{Rejection, RejectionCode};

/// Why a call got no answer from the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// The request body passed `[server] max_body_bytes`.
    TooLarge,
    /// No connection could be made (refused, no route, connect timeout, TLS refused): the
    /// upstream never saw the request.
    Unreachable,
    /// The request went out, then the connection failed before a response head came back.
    Broken,
    /// No response head within `[upstream] request_timeout_ms`.
    TimedOut,
    /// The pipeline's identity could not be written as header fields.
    Unwritable,
    /// The client's own body failed (a malformed chunk, the client gone).
    ClientBody,
}

impl Failure {
    /// The answer: a typed rejection in problem+json (or gRPC) form, marked [`MayHaveStored`]
    /// when the upstream may have acted on the request, so that the quota stage keeps the unit.
    pub(super) fn answer(self, grpc: bool) -> Response<Body> {
        let (code, detail, may_have_stored) = match self {
            Failure::TooLarge => (
                RejectionCode::PayloadTooLarge,
                "the request body is larger than the server accepts",
                false,
            ),
            Failure::Unreachable => (
                RejectionCode::UpstreamUnavailable,
                "the upstream service could not be reached",
                false,
            ),
            Failure::Broken => (
                RejectionCode::UpstreamUnavailable,
                "the upstream service closed the connection without answering",
                true,
            ),
            Failure::TimedOut => (
                RejectionCode::UpstreamTimeout,
                "the upstream service did not answer in time",
                true,
            ),
            Failure::Unwritable => (
                RejectionCode::UpstreamUnavailable,
                "the caller's identity cannot be passed to the upstream service",
                false,
            ),
            Failure::ClientBody => return unreadable_body(),
        };
        let mut response = Rejection::new(code, detail)
            .into_response::<Empty<Bytes>>(grpc)
            .map(Body::new);
        if may_have_stored {
            response.extensions_mut().insert(MayHaveStored);
        }
        response
    }
}

/// 400 for a body the client broke off: no stage's rejection, as a handler answers a body it
/// cannot read. The client has usually gone and will not read it; the audit log does.
fn unreadable_body() -> Response<Body> {
    let body = r#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"the request body could not be read"}"#;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_status_code_and_quota_marker() {
        for (failure, status, code, kept) in [
            (
                Failure::TooLarge,
                413,
                Some(RejectionCode::PayloadTooLarge),
                false,
            ),
            (
                Failure::Unreachable,
                502,
                Some(RejectionCode::UpstreamUnavailable),
                false,
            ),
            (
                Failure::Broken,
                502,
                Some(RejectionCode::UpstreamUnavailable),
                true,
            ),
            (
                Failure::TimedOut,
                504,
                Some(RejectionCode::UpstreamTimeout),
                true,
            ),
            (
                Failure::Unwritable,
                502,
                Some(RejectionCode::UpstreamUnavailable),
                false,
            ),
            (Failure::ClientBody, 400, None, false),
        ] {
            let response = failure.answer(false);
            assert_eq!(response.status(), status, "{failure:?}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let found = response
                .extensions()
                .get::<Rejection>()
                .map(Rejection::code);
            assert_eq!(found, code, "{failure:?}");
            let marked = response.extensions().get::<MayHaveStored>().is_some();
            assert_eq!(marked, kept, "{failure:?}");
        }
    }

    #[test]
    fn a_grpc_caller_gets_the_grpc_status() {
        let response = Failure::TimedOut.answer(true);
        assert_eq!(response.headers()["grpc-status"], "4");
        let response = Failure::Unreachable.answer(true);
        assert_eq!(response.headers()["grpc-status"], "14");
    }
}
