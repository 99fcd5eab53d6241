//! [`Upstream`]: the tower service that forwards every request to one upstream.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use memorysync_pipeline::TrustedProxies;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::health::HealthCheck;
use memorysync_pipeline::rejection::is_grpc;
use tower_service::Service;

use super::body::BoxError;
use super::client::{self, Roots, UpstreamClient};
use super::health::UpstreamCheck;
use super::target::Target;
use super::{forward, request};

/// A reverse proxy to one HTTP/1.1 service: `Service<http::Request<B>>` for any streaming body,
/// answering `http::Response<axum::body::Body>` (the body type `serve` and axum already speak),
/// never failing: every failure is an answer (502, 504, 413). Cheap to clone; clones share the
/// connection pool.
#[derive(Clone)]
pub(crate) struct Upstream {
    client: UpstreamClient,
    settings: Arc<Settings>,
}

/// What every call reads.
pub(super) struct Settings {
    pub(super) target: Target,
    pub(super) max_body_bytes: u64,
    pub(super) request_timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) trusted_proxies: TrustedProxies,
    pub(super) forwarded_proto: &'static str,
}

impl Upstream {
    /// A proxy to `url` (`http://host:port[/base]`, or `https://` checked against the Mozilla
    /// roots) with `config`'s `[upstream]` timeouts and pool, `[server] max_body_bytes` and
    /// `[health] trusted_proxies`. `forwarded_proto` is how clients reach this server, `http` or
    /// `https`, for `X-Forwarded-Proto`. The error says what is wrong with the URL, without
    /// repeating it.
    pub(crate) fn new(
        url: &str,
        config: &Config,
        forwarded_proto: &'static str,
    ) -> Result<Upstream, String> {
        Upstream::with_roots(url, config, forwarded_proto, Roots::Mozilla)
    }

    /// [`Upstream::new`], checking an `https://` upstream against `roots`.
    pub(super) fn with_roots(
        url: &str,
        config: &Config,
        forwarded_proto: &'static str,
        roots: Roots,
    ) -> Result<Upstream, String> {
        if !matches!(forwarded_proto, "http" | "https") {
            return Err(format!(
                "X-Forwarded-Proto must be http or https, not {forwarded_proto:?}"
            ));
        }
        let target = Target::parse(url)?;
        let client = client::build(&config.upstream, roots)?;
        let settings = Settings {
            target,
            max_body_bytes: config.server.max_body_bytes,
            request_timeout: config.upstream.request_timeout,
            connect_timeout: config.upstream.connect_timeout,
            trusted_proxies: TrustedProxies::new(config.health.trusted_proxies.iter().copied()),
            forwarded_proto,
        };
        Ok(Upstream {
            client,
            settings: Arc::new(settings),
        })
    }

    /// Where requests go, for the startup line.
    pub(crate) fn describe(&self) -> String {
        self.settings.target.describe()
    }

    /// The `upstream` check for `/health`: a TCP connection within the connect timeout.
    pub(crate) fn health_check(&self) -> impl HealthCheck + use<> {
        let (host, port) = self.settings.target.host_and_port();
        UpstreamCheck {
            host,
            port,
            timeout: self.settings.connect_timeout,
        }
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.settings;
        f.debug_struct("Upstream")
            .field("target", &settings.target)
            .field("max_body_bytes", &settings.max_body_bytes)
            .field("request_timeout", &settings.request_timeout)
            .field("connect_timeout", &settings.connect_timeout)
            .field("forwarded_proto", &settings.forwarded_proto)
            .finish_non_exhaustive()
    }
}

impl<B> Service<Request<B>> for Upstream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    /// Boxed: the call waits on the network, next to which a box costs nothing, and hyper's
    /// own response future is boxed already.
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The pool opens connections per call, within the call's timeout.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let grpc = is_grpc(request.headers());
        match request::prepare(request, &self.settings) {
            Ok((upstream, end)) => {
                let sent = forward::send(
                    self.client.clone(),
                    Arc::clone(&self.settings),
                    upstream,
                    end,
                );
                Box::pin(
                    async move { Ok(sent.await.unwrap_or_else(|failure| failure.answer(grpc))) },
                )
            }
            Err(failure) => {
                tracing::debug!(?failure, "refused before the upstream was contacted");
                let answer = failure.answer(grpc);
                Box::pin(std::future::ready(Ok(answer)))
            }
        }
    }
}
