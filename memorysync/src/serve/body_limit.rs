//! `[server] max_body_bytes`, in front of the whole pipeline: a body over the limit is answered
//! 413 `payload_too_large` before any stage or handler sees the request, so nothing is stored
//! and no quota unit is spent.

use axum::body::Body;
use axum::response::Response;
use http::{Request, header};
use http_body::Body as _;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use memorysync_pipeline::rejection::{Rejection, RejectionCode, is_grpc};

const TOO_LARGE: Rejection = Rejection::new(
    RejectionCode::PayloadTooLarge,
    "the request body is larger than the server accepts",
);

/// What the listener does with a request body before the pipeline sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bodies {
    /// Read whole, up to the limit: for a backend that reads bodies whole anyway.
    Read,
    /// Left to stream: the backend holds the body to the limit as it streams, a declared
    /// length before it contacts anything (the reverse proxy, inside the pipeline, so that its
    /// 413 is audited like every other answer).
    Streamed,
}

/// The request, or the answer refusing it. A declared `Content-Length` over `max` is refused
/// before the body is read (hyper holds a declared body to its length); a body of unknown
/// length (chunked) is read up to `max` and refused as soon as it passes. A body that
/// [`Bodies::Streamed`] is left alone.
pub(crate) async fn admit(
    request: Request<Body>,
    max: u64,
    bodies: Bodies,
) -> Result<Request<Body>, Response> {
    if bodies == Bodies::Streamed {
        return Ok(request);
    }
    let grpc = is_grpc(request.headers());
    let refuse = || {
        TOO_LARGE
            .into_response::<Empty<bytes::Bytes>>(grpc)
            .map(Body::new)
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > max => return Err(refuse()),
        Some(_) => return Ok(request),
        None if request.body().is_end_stream() => return Ok(request),
        None => {}
    }
    let (parts, body) = request.into_parts();
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Err(error) if error.is::<LengthLimitError>() => Err(refuse()),
        // The client stopped sending mid-body; whoever reads the answer gets a 400.
        Err(_) => Err(super::problem::bad_request(
            "the request body could not be read",
        )),
    }
}
