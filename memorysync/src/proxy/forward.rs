//! One call upstream: the request out, the response head back within the request timeout, and
//! every way that can fail named.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, Response};
use hyper_util::client::legacy::connect::capture_connection;

use super::answers::Failure;
use super::body::{self, BodyEnd, UpstreamBody};
use super::client::UpstreamClient;
use super::hop_by_hop;
use super::service::Settings;

/// Sends `request` and hands back the upstream's response, its hop-by-hop fields removed and
/// its body streaming; or the failure, told apart by what the body watch (`end`) and the
/// connection saw.
pub(super) async fn send(
    client: UpstreamClient,
    settings: Arc<Settings>,
    mut request: Request<UpstreamBody>,
    end: Arc<BodyEnd>,
) -> Result<Response<Body>, Failure> {
    // Whether a connection was in hand when the timeout fired: before, the upstream never saw
    // the request (502, the quota unit goes back); after, it may have acted on it (504).
    let connection = capture_connection(&mut request);
    let sent = tokio::time::timeout(settings.request_timeout, client.request(request)).await;
    let failure = match sent {
        Ok(Ok(response)) => {
            let (mut parts, incoming) = response.into_parts();
            hop_by_hop::strip(&mut parts.headers);
            return Ok(Response::from_parts(parts, body::from_upstream(incoming)));
        }
        Ok(Err(error)) => {
            let failure = if end.too_large() {
                Failure::TooLarge
            } else if end.client_failed() {
                Failure::ClientBody
            } else if error.is_connect() {
                Failure::Unreachable
            } else {
                Failure::Broken
            };
            tracing::warn!(?failure, %error, "the upstream call failed");
            failure
        }
        Err(_) => {
            let failure = if connection.connection_metadata().is_some() {
                Failure::TimedOut
            } else {
                Failure::Unreachable
            };
            tracing::warn!(
                ?failure,
                timeout_ms = settings.request_timeout.as_millis(),
                "the upstream did not answer in time"
            );
            failure
        }
    };
    Err(failure)
}
