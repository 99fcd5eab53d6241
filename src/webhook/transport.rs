//! The HTTPS client that delivers webhooks (feature `webhook-client`): hyper-util with rustls,
//! behind a tower `Service`, with a resolver that refuses non-global addresses in production.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use tower::Service;

use super::check_address;
use crate::environment::Environment;

/// How much of a receiver's answer is read (and thrown away) so the connection can be reused.
const MAX_ANSWER: usize = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sends webhook requests over HTTP/1.1 with TLS from rustls. Redirects are not followed.
#[derive(Clone, Debug)]
pub struct HttpsTransport {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
}

impl HttpsTransport {
    /// A client trusting the Mozilla root certificates (webpki-roots).
    pub fn new(deployment: Environment) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
            .https_or_http()
            .enable_http1()
            .wrap_connector(http_connector(deployment));
        Self::with_connector(connector)
    }

    /// A client trusting exactly `roots` (a private CA, or a test's self-signed certificate).
    pub fn with_roots(deployment: Environment, roots: rustls::RootCertStore) -> Self {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http_connector(deployment));
        Self::with_connector(connector)
    }

    fn with_connector(connector: HttpsConnector<HttpConnector<GuardedResolver>>) -> Self {
        HttpsTransport {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

fn http_connector(deployment: Environment) -> HttpConnector<GuardedResolver> {
    let mut http = HttpConnector::new_with_resolver(GuardedResolver { deployment });
    // The TLS layer above handles https://; the scheme rule itself is checked per endpoint.
    http.enforce_http(false);
    http.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
    http
}

impl Service<http::Request<Bytes>> for HttpsTransport {
    type Response = http::Response<()>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<()>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Bytes>) -> Self::Future {
        let client = self.client.clone();
        // Boxed: one allocation per delivery attempt, next to a network round trip.
        Box::pin(async move {
            let response = client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            // Read a bounded amount so the connection can go back to the pool; the content is
            // not used.
            let _ = Limited::new(body, MAX_ANSWER).collect().await;
            Ok(http::Response::from_parts(parts, ()))
        })
    }
}

/// Resolves host names and, in production, refuses any name with a non-global address among
/// its answers. The connection then goes only to the addresses checked here, so a second
/// answer (DNS rebinding) cannot slip in between check and connect.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    deployment: Environment,
}

impl Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let deployment = self.deployment;
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the webhook host did not resolve",
                ));
            }
            for address in &addresses {
                check_address(address.ip(), deployment)
                    .map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))?;
            }
            Ok(addresses.into_iter())
        })
    }
}
