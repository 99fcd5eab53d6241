//! RFC 9457 problem details.

use http::{HeaderValue, Response, header};
use serde::Serialize;

use super::{Rejection, RejectionCode};
use crate::body::ResponseBody;

/// The media type of a problem details body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// The problem `type` URI of a code. A URN rather than an invented web address: RFC 9457 asks
/// only for a URI that identifies the problem type.
fn problem_type(code: RejectionCode) -> String {
    format!("urn:memorysync:problem:{}", code.as_str())
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

pub(super) fn problem_response<B>(rejection: &Rejection) -> Response<ResponseBody<B>> {
    let code = rejection.code;
    let kind = problem_type(code);
    let problem = Problem {
        kind: &kind,
        title: code.title(),
        status: code.status().as_u16(),
        detail: rejection.detail,
        code: code.as_str(),
    };
    // Serializing a struct of strings and an integer cannot fail.
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = code.status();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if code.status() == http::StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
