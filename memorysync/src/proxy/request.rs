//! The client's request turned into the upstream's: same method, path, query and body; the
//! header fields rewritten.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Version};
use memorysync_pipeline::audit::X_REQUEST_ID;
use memorysync_pipeline::client_ip::peer_ip;

use super::answers::Failure;
use super::body::{self, BodyEnd, BoxError, UpstreamBody};
use super::forwarding::{self, Hop};
use super::service::Settings;
use super::{hop_by_hop, identity};

/// The request for the upstream, and the watch on its body; or why there is none. Nothing here
/// waits: a `Content-Length` over the limit is refused before any connection is made.
pub(super) fn prepare<B>(
    request: Request<B>,
    settings: &Settings,
) -> Result<(Request<UpstreamBody>, Arc<BodyEnd>), Failure>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = request.into_parts();
    if declared_length(&parts.headers).is_some_and(|length| length > settings.max_body_bytes) {
        return Err(Failure::TooLarge);
    }
    let uri = settings
        .target
        .uri_for(parts.uri.path_and_query())
        .map_err(|_| Failure::Unwritable)?;
    let headers = &mut parts.headers;
    // Read before the hop-by-hop fields go: `Connection: host` or `Connection: x-request-id`
    // must not take away the forwarded host nor the id the audit log records.
    let host = headers.get(header::HOST).cloned().or_else(|| {
        let authority = parts.uri.authority()?;
        HeaderValue::from_str(authority.as_str()).ok()
    });
    let request_ids: Vec<HeaderValue> = headers.get_all(X_REQUEST_ID).iter().cloned().collect();
    hop_by_hop::strip(headers);
    headers.remove(X_REQUEST_ID);
    for id in request_ids {
        headers.append(X_REQUEST_ID, id);
    }
    // The proxy's server already answered `Expect: 100-continue` by reading the body.
    headers.remove(header::EXPECT);
    identity::replace(headers, &parts.extensions).map_err(|_| Failure::Unwritable)?;
    let hop = Hop {
        peer: peer_ip(&parts.extensions),
        host,
        proto: settings.forwarded_proto,
        trusted: &settings.trusted_proxies,
    };
    forwarding::write(headers, hop);

    let end = Arc::new(BodyEnd::default());
    let body = body::limited(body, settings.max_body_bytes, Arc::clone(&end));
    let mut upstream = Request::new(body);
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = uri;
    *upstream.version_mut() = Version::HTTP_11;
    *upstream.headers_mut() = parts.headers;
    Ok((upstream, end))
}

/// The body length the client declared, when it declared one that reads as a number (hyper has
/// refused any other before the request got here).
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
