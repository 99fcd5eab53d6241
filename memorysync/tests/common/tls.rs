//! TLS for the tests: a certificate for `localhost` and 127.0.0.1 made by rcgen, written as the
//! PEM files `[server.tls]` names, and an HTTPS client that trusts only it.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// A self-signed certificate and its key, in PEM files of a temporary directory.
pub(crate) struct TestCert {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    der: CertificateDer<'static>,
}

impl TestCert {
    /// A new certificate for `localhost` and 127.0.0.1.
    pub(crate) fn new() -> TestCert {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        TestCert {
            dir,
            cert,
            key,
            der: made.cert.der().clone(),
        }
    }

    /// The `[server.tls]` table naming the files.
    pub(crate) fn table(&self) -> String {
        format!(
            "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            self.cert.display(),
            self.key.display()
        )
    }

    /// A rustls client configuration that trusts this certificate alone.
    pub(crate) fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    /// An HTTPS-only client that trusts this certificate alone.
    pub(crate) fn https_client(&self) -> Client<HttpsConnector<HttpConnector>, Full<Bytes>> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.client_config())
            .https_only()
            .enable_http1()
            .build();
        Client::builder(TokioExecutor::new()).build(connector)
    }
}

/// `GET url` through `client`: the status and the body as text.
pub(crate) async fn get(
    client: &Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: &str,
) -> (u16, String) {
    let request = http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
