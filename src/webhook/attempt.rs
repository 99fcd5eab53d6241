//! One attempt at a delivery: the signed request, the call with its time limit, and what the
//! answer means.

use std::time::Duration;

use bytes::Bytes;
use tower::{Service, ServiceExt};

use super::retry::retry_after;
use super::{Delivery, Endpoint, WebhookSecret, signed_headers};
use crate::clock::Timestamp;

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one attempt came to.
pub(super) enum Attempt {
    Delivered {
        status: u16,
    },
    /// 410: the receiver says the endpoint is gone for good.
    Gone,
    Failed {
        reason: String,
        retry_after: Option<Duration>,
        /// The receiver's status, when it answered.
        status: Option<u16>,
    },
}

impl Attempt {
    /// Sends `request` through `transport`, giving the receiver `timeout` to answer.
    pub(super) async fn send<T>(
        transport: T,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> Attempt
    where
        T: Service<http::Request<Bytes>, Response = http::Response<()>>,
        T::Error: Into<BoxError>,
    {
        match tokio::time::timeout(timeout, transport.oneshot(request)).await {
            Err(_) => Attempt::Failed {
                reason: format!("no answer within {} ms", timeout.as_millis()),
                retry_after: None,
                status: None,
            },
            Ok(Err(error)) => Attempt::Failed {
                // A transport error may quote what it was given: nothing secret may stay.
                reason: crate::config::redact(&format!(
                    "transport: {}",
                    error_chain(error.into().as_ref())
                )),
                retry_after: None,
                status: None,
            },
            Ok(Ok(response)) => Attempt::classify(&response),
        }
    }

    fn classify(response: &http::Response<()>) -> Attempt {
        let status = response.status();
        if status.is_success() {
            Attempt::Delivered {
                status: status.as_u16(),
            }
        } else if status == http::StatusCode::GONE {
            Attempt::Gone
        } else {
            // 3xx included: redirects are not followed, so the message did not arrive.
            Attempt::Failed {
                reason: format!("status {}", status.as_u16()),
                retry_after: retry_after(response.headers()),
                status: Some(status.as_u16()),
            }
        }
    }

    /// The receiver's status, when it answered.
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Attempt::Delivered { status } => Some(*status),
            Attempt::Gone => Some(http::StatusCode::GONE.as_u16()),
            Attempt::Failed { status, .. } => *status,
        }
    }

    /// What went wrong, for the attempt log; `None` for a delivery.
    pub(super) fn error(&self) -> Option<String> {
        match self {
            Attempt::Delivered { .. } => None,
            Attempt::Gone => Some("410 Gone: endpoint disabled".into()),
            Attempt::Failed { reason, .. } => Some(reason.clone()),
        }
    }
}

/// An error with its causes, `outer: inner: innermost`: client errors keep the reason (a refused
/// address, an untrusted certificate) in their sources, not in their own message.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

/// The POST for `delivery` to `endpoint`, signed with each of `secrets` (the endpoint's that
/// sign at `now`); its `webhook-timestamp` is `now`.
pub(super) fn signed_request(
    endpoint: &Endpoint,
    secrets: &[WebhookSecret],
    delivery: &Delivery,
    now: Timestamp,
) -> http::Request<Bytes> {
    let timestamp = now.unix_millis().div_euclid(1000);
    let mut request = http::Request::post(endpoint.url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "memorysync-webhooks/1");
    for (name, value) in signed_headers(secrets, &delivery.id, timestamp, &delivery.body) {
        request = request.header(name, value);
    }
    // Every part is a valid header value: ids, digits and base64.
    request
        .body(delivery.body.clone())
        .unwrap_or_else(|_| http::Request::new(delivery.body.clone()))
}
