//! The answer to a request whose quota is used up: a success with an empty result.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, header};

use super::Operation;
use crate::body::ResponseBody;

/// Put into the extensions of a degraded response, so that the audit stage records the outcome
/// `degraded` without parsing a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaDegraded {
    /// The operation whose quota is used up.
    pub operation: Operation,
}

/// `{"results":[]}`, the default empty result of both operations.
pub const EMPTY_RESULTS: &[u8] = br#"{"results":[]}"#;

/// How degraded responses look.
#[derive(Clone, Debug)]
pub(super) struct DegradedAnswer {
    pub(super) add_body: Bytes,
    pub(super) query_body: Bytes,
    pub(super) header: Option<HeaderName>,
}

impl Default for DegradedAnswer {
    fn default() -> Self {
        DegradedAnswer {
            add_body: Bytes::from_static(EMPTY_RESULTS),
            query_body: Bytes::from_static(EMPTY_RESULTS),
            header: None,
        }
    }
}

impl DegradedAnswer {
    /// 200 with the empty result; for gRPC, status OK with one zero-length message (a valid
    /// empty value of every protobuf message type).
    pub(super) fn response<B>(
        &self,
        operation: Operation,
        grpc: bool,
    ) -> Response<ResponseBody<B>> {
        let mut response = if grpc {
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            // One length-prefixed message: not compressed, length 0.
            let message = Bytes::from_static(&[0, 0, 0, 0, 0]);
            let mut response = Response::new(ResponseBody::with_trailers(message, trailers));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            response
        } else {
            let body = match operation {
                Operation::Add => self.add_body.clone(),
                Operation::Query => self.query_body.clone(),
            };
            let mut response = Response::new(ResponseBody::full(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        };
        if let Some(name) = &self.header {
            response
                .headers_mut()
                .insert(name.clone(), HeaderValue::from_static(operation.as_str()));
        }
        response
            .extensions_mut()
            .insert(QuotaDegraded { operation });
        response
    }
}
