//! The gRPC form of a rejection: a trailers-only response.

use http::{HeaderMap, HeaderValue, Response, header};

use super::Rejection;
use crate::body::ResponseBody;

/// The gRPC status codes the stages answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrpcStatus {
    /// 0
    Ok,
    /// 3
    InvalidArgument,
    /// 4
    DeadlineExceeded,
    /// 7
    PermissionDenied,
    /// 8
    ResourceExhausted,
    /// 14
    Unavailable,
    /// 16
    Unauthenticated,
}

impl GrpcStatus {
    /// The numeric code carried in `grpc-status`.
    pub const fn code(self) -> u16 {
        match self {
            GrpcStatus::Ok => 0,
            GrpcStatus::InvalidArgument => 3,
            GrpcStatus::DeadlineExceeded => 4,
            GrpcStatus::PermissionDenied => 7,
            GrpcStatus::ResourceExhausted => 8,
            GrpcStatus::Unavailable => 14,
            GrpcStatus::Unauthenticated => 16,
        }
    }
}

/// Whether a request speaks gRPC: its `content-type` is `application/grpc` or a subtype such as
/// `application/grpc+proto`.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"))
}

/// A trailers-only response: HTTP 200, the status in the headers, no body. gRPC clients read
/// `grpc-status` from the headers when the stream ends without data.
pub(super) fn trailers_only<B>(rejection: &Rejection) -> Response<ResponseBody<B>> {
    let mut response = Response::new(ResponseBody::empty());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(
        "grpc-status",
        HeaderValue::from(rejection.code.grpc_status().code()),
    );
    // `grpc-message` is percent-encoded: printable ASCII stands for itself except `%`. The
    // details are fixed ASCII sentences, so `%` is the one byte that could need encoding. The
    // code goes first so that clients can match on it.
    let message = format!("{}: {}", rejection.code.as_str(), rejection.detail).replace('%', "%25");
    if let Ok(value) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", value);
    }
    response
}
