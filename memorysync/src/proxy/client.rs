//! The pooled HTTP/1.1 client that carries requests upstream.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use memorysync_pipeline::config::UpstreamConfig;

use super::body::UpstreamBody;

/// hyper-util's pooled client, over TCP or over TLS from rustls.
pub(super) type UpstreamClient = Client<HttpsConnector<HttpConnector>, UpstreamBody>;

/// How long an idle pooled connection is kept: shorter than the idle timeouts of common
/// servers (Node's 5 s keep-alive included), so that the proxy seldom reuses a connection the
/// upstream is closing.
const POOL_IDLE: Duration = Duration::from_secs(4);

/// The certificates an `https://` upstream is checked against.
pub(super) enum Roots {
    /// The Mozilla root store (webpki-roots): an upstream with a publicly trusted certificate.
    Mozilla,
    /// Exactly these roots: a test's self-signed upstream.
    #[cfg(test)]
    Only(rustls::RootCertStore),
}

/// The client for `config`: connect timeout, `TCP_NODELAY`, and at most `pool_max_idle` idle
/// connections kept.
pub(super) fn build(config: &UpstreamConfig, roots: Roots) -> Result<UpstreamClient, String> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(config.connect_timeout));
    // Small requests and answers go out at once instead of waiting on Nagle's algorithm.
    http.set_nodelay(true);
    // The TLS layer above sends `http` URIs through as they are and handles `https` ones.
    http.enforce_http(false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = match roots {
        Roots::Mozilla => HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("the TLS provider: {e}"))?,
        #[cfg(test)]
        Roots::Only(roots) => HttpsConnectorBuilder::new().with_tls_config(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("the TLS provider: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth(),
        ),
    };
    let connector = tls.https_or_http().enable_http1().wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(config.pool_max_idle)
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .build(connector))
}
