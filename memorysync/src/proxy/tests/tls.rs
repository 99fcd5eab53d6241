//! An `https://` upstream: served when its certificate is trusted, 502 when it is not.

use std::sync::Arc;

use memorysync_pipeline::quota::Operation;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use super::client::send;
use super::harness::{PROJECT, Proxied, Setup};
use super::upstreams::HyperUpstream;
use crate::proxy::client::Roots;

/// A self-signed certificate for `localhost` and a TLS acceptor serving it.
fn localhost_tls() -> (TlsAcceptor, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .expect("a server config");
    (TlsAcceptor::from(Arc::new(config)), certificate)
}

async fn tls_upstream(acceptor: TlsAcceptor) -> HyperUpstream {
    HyperUpstream::start(
        |_| async { http::Response::new(axum::body::Body::from("over tls")) },
        Some(acceptor),
    )
    .await
}

#[tokio::test]
async fn an_https_upstream_with_a_trusted_certificate_is_served() {
    let (acceptor, certificate) = localhost_tls();
    let upstream = tls_upstream(acceptor).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).expect("a root");
    let url = format!("https://localhost:{}", upstream.addr.port());
    let proxied = Proxied::start_with(&url, Setup::default(), Some(Roots::Only(roots))).await;
    let answer = send(
        proxied.addr,
        "POST",
        "/v2/notes/a",
        &proxied.credentials(),
        "{}",
    )
    .await;
    assert_eq!(
        (answer.status, &answer.body[..]),
        (200, &b"over tls"[..]),
        "{answer:?}"
    );
    let seen = upstream.last();
    assert_eq!(seen.one("x-memorysync-project").as_deref(), Some(PROJECT));
    assert_eq!(proxied.used(Operation::Add).await, 1);
}

/// The Mozilla roots do not trust a self-signed certificate: the handshake fails, nothing was
/// sent, 502 and the unit goes back.
#[tokio::test]
async fn an_https_upstream_with_an_untrusted_certificate_is_502() {
    let (acceptor, _) = localhost_tls();
    let upstream = tls_upstream(acceptor).await;
    let url = format!("https://localhost:{}", upstream.addr.port());
    let proxied = Proxied::start(&url, Setup::default()).await;
    let answer = send(
        proxied.addr,
        "POST",
        "/v2/notes/a",
        &proxied.credentials(),
        "{}",
    )
    .await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (502, "upstream_unavailable")
    );
    assert!(upstream.seen().is_empty());
    assert_eq!(proxied.used(Operation::Add).await, 0);
}
