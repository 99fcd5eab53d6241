//! The pooled HTTP/1.1 client that carries requests upstream.

use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use memorysync_pipeline::config::UpstreamConfig;

use super::body::UpstreamBody;
/// The certificates an `https://` upstream is checked against.
pub(super) use crate::https::Roots;

/// hyper-util's pooled client, over TCP or over TLS from rustls.
pub(super) type UpstreamClient = Client<HttpsConnector<HttpConnector>, UpstreamBody>;

/// How long an idle pooled connection is kept: shorter than the idle timeouts of common
/// servers (Node's 5 s keep-alive included), so that the proxy seldom reuses a connection the
/// upstream is closing.
const POOL_IDLE: Duration = Duration::from_secs(4);

/// The client for `config`: connect timeout, `TCP_NODELAY`, and at most `pool_max_idle` idle
/// connections kept.
pub(super) fn build(config: &UpstreamConfig, roots: Roots) -> Result<UpstreamClient, String> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(config.connect_timeout));
    // Small requests and answers go out at once instead of waiting on Nagle's algorithm.
    http.set_nodelay(true);
    let connector = crate::https::connector(http, roots)?;
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(config.pool_max_idle)
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .build(connector))
}
