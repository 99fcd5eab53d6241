//! Rejections: the typed answers a stage gives instead of calling the inner service.
//!
//! Every stage rejects through [`Rejection`], so that all of them answer alike: RFC 9457
//! problem details over HTTP, a trailers-only status over gRPC (section 3 of the design).
//! The rejection itself is also put into the response's extensions, so that an outer stage (the
//! audit log) reads the outcome as a type instead of parsing a body.
//!
//! # Example
//! ```
//! use memorysync_pipeline::rejection::{Rejection, RejectionCode};
//!
//! let rejection = Rejection::new(RejectionCode::MissingApiKey, "send the key in the Authorization header");
//! let response = rejection.into_response::<http_body_util::Empty<bytes::Bytes>>(false);
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! ```

mod code;
mod grpc;
mod problem;

pub use code::RejectionCode;
pub use grpc::{GrpcStatus, is_grpc};

use http::{HeaderValue, Response, header};

use crate::body::ResponseBody;

/// A stage's refusal of a request: a [`RejectionCode`] with a human-readable detail.
///
/// The detail is a `&'static str` on purpose: a rejection can never echo request data (a key, a
/// header value) back to the client or into a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    code: RejectionCode,
    detail: &'static str,
    retry_after_secs: Option<u64>,
}

impl Rejection {
    /// A rejection with this code and detail.
    pub const fn new(code: RejectionCode, detail: &'static str) -> Self {
        Rejection {
            code,
            detail,
            retry_after_secs: None,
        }
    }

    /// Adds a `Retry-After` header of `secs` whole seconds, raised to at least 1: a client told
    /// to retry after 0 seconds retries at once and is refused again.
    #[must_use]
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs.max(1));
        self
    }

    /// The machine-readable code.
    pub fn code(&self) -> RejectionCode {
        self.code
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &'static str {
        self.detail
    }

    /// The `Retry-After` value in seconds, if any.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    /// The response for this rejection: problem+json, or a trailers-only gRPC status when
    /// `grpc` is true. The rejection rides along in the response's extensions.
    pub fn into_response<B>(self, grpc: bool) -> Response<ResponseBody<B>> {
        let mut response = if grpc {
            grpc::trailers_only(&self)
        } else {
            problem::problem_response(&self)
        };
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(self);
        response
    }
}
