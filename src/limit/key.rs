//! Which windows a request counts against: by default its API key's, or any key a closure
//! derives from the request (a client address, a tenant header), under limits set on the layer.

use std::borrow::Cow;

use http::Request;

use super::Limits;
use crate::auth::Principal;
use crate::rejection::{Rejection, RejectionCode};

/// The windows a request counts against, as a [`KeyExtractor`] sees it.
#[derive(Debug)]
pub enum RateKey<'r> {
    /// Count the request against the windows of `id`, under `limits`.
    Limited {
        /// The key's id; requests with equal ids share their windows.
        id: Cow<'r, str>,
        /// The key's limits.
        limits: Limits,
    },
    /// The request is not limited by this layer.
    Exempt,
    /// The layer cannot limit the request and refuses it.
    Refused(Rejection),
}

/// Chooses the windows a request counts against. Implemented by [`ByApiKey`] (the default) and,
/// through [`SlidingWindowRateLimitLayer::with_key`](super::SlidingWindowRateLimitLayer::with_key),
/// by any `Fn(&Request<B>) -> Option<String>`.
pub trait KeyExtractor<B> {
    /// The windows `request` counts against; `limits` are the layer's
    /// ([`with_limits`](super::SlidingWindowRateLimitLayer::with_limits)).
    fn rate_key<'r>(&self, request: &'r Request<B>, limits: Limits) -> RateKey<'r>;
}

/// The default: the authenticated API key, under its record's limits. A request without a
/// [`Principal`] (the stage used without `ApiKeyAuth` outside it) is refused 401
/// `missing_api_key`: letting it through unlimited would make the stage a no-op nobody notices.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByApiKey;

impl<B> KeyExtractor<B> for ByApiKey {
    fn rate_key<'r>(&self, request: &'r Request<B>, layer: Limits) -> RateKey<'r> {
        match request.extensions().get::<Principal>() {
            // The record's rates, over its own windows or else the layer's.
            Some(principal) => RateKey::Limited {
                id: Cow::Borrowed(principal.key_id()),
                limits: Limits::new(principal.rps(), principal.rpm()).with_windows(
                    layer
                        .windows
                        .overridden_by(principal.rps_window(), principal.rpm_window()),
                ),
            },
            None => RateKey::Refused(Rejection::new(
                RejectionCode::MissingApiKey,
                "rate limits need an authenticated API key",
            )),
        }
    }
}

/// A closure's key under the layer's limits; a request for which it returns `None` is exempt.
#[derive(Clone, Copy, Debug)]
pub struct ByFn<F>(pub(super) F);

impl<B, F> KeyExtractor<B> for ByFn<F>
where
    F: Fn(&Request<B>) -> Option<String>,
{
    fn rate_key<'r>(&self, request: &'r Request<B>, limits: Limits) -> RateKey<'r> {
        match (self.0)(request) {
            Some(id) => RateKey::Limited {
                id: Cow::Owned(id),
                limits,
            },
            None => RateKey::Exempt,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;

    use tower::{ServiceBuilder, ServiceExt, service_fn};

    use crate::ClientAddr;
    use crate::client_ip::peer_ip;
    use crate::clock::{ManualClock, Timestamp};
    use crate::limit::SlidingWindowRateLimitLayer;

    fn from(ip: [u8; 4], internal: bool) -> http::Request<()> {
        let mut request = http::Request::builder()
            .extension(ClientAddr(SocketAddr::from((ip, 40_000))))
            .body(())
            .unwrap();
        if internal {
            request
                .headers_mut()
                .insert("x-internal", http::HeaderValue::from_static("1"));
        }
        request
    }

    #[tokio::test]
    async fn a_route_without_api_key_auth_is_limited_per_client_address() {
        let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
        let service = ServiceBuilder::new()
            .layer(
                SlidingWindowRateLimitLayer::new()
                    .with_key(|request: &http::Request<()>| {
                        if request.headers().contains_key("x-internal") {
                            return None;
                        }
                        peer_ip(request.extensions()).map(|ip| format!("ip:{ip}"))
                    })
                    .with_limits(3, 100)
                    .with_clock(clock.clone()),
            )
            .service(service_fn(|_: http::Request<()>| async {
                Ok::<_, Infallible>(http::Response::new(()))
            }));
        for _ in 0..3 {
            let admitted = service.clone().oneshot(from([192, 0, 2, 1], false)).await;
            let admitted = admitted.unwrap();
            assert_eq!(admitted.status(), 200);
            assert_eq!(
                admitted.headers()["ratelimit-policy"],
                r#""rps";q=3;w=1, "rpm";q=100;w=60"#
            );
        }
        let refused = service.clone().oneshot(from([192, 0, 2, 1], false)).await;
        let refused = refused.unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "1");
        // Another address is not affected; a request the closure exempts is not counted.
        let other = service.clone().oneshot(from([192, 0, 2, 2], false)).await;
        assert_eq!(other.unwrap().status(), 200);
        let exempt = service.clone().oneshot(from([192, 0, 2, 1], true)).await;
        let exempt = exempt.unwrap();
        assert_eq!(exempt.status(), 200);
        assert!(!exempt.headers().contains_key("ratelimit-policy"));
        // The window slides: a second later the first address is admitted again.
        clock.advance(std::time::Duration::from_secs(1));
        let later = service.oneshot(from([192, 0, 2, 1], false)).await;
        assert_eq!(later.unwrap().status(), 200);
    }
}
