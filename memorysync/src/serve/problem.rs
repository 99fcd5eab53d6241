//! Problem details (RFC 9457) the server answers by itself, shaped like the pipeline's
//! rejections, for what no stage decides: a body that could not be read, a path or method the
//! admin listener does not serve.

use axum::body::Body;
use axum::response::Response;
use http::{StatusCode, header};
use serde_json::json;

/// `application/problem+json` with `status` and `code`.
pub(crate) fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = json!({
        "type": format!("urn:memorysync:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// 400 `bad_request`.
pub(crate) fn bad_request(detail: &str) -> Response {
    problem(StatusCode::BAD_REQUEST, "bad_request", detail)
}
