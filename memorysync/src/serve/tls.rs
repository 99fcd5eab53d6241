//! `[server.tls]`: the rustls configuration both listeners accept connections with (ring
//! provider, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`).

use std::path::Path;
use std::sync::Arc;

use memorysync_pipeline::config::TlsConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The acceptor of the config's certificate and key; an error names the file at fault.
pub(crate) fn acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| unusable(&tls.cert, "cert", &e, "CERTIFICATE"))?;
    if certs.is_empty() {
        return Err(unusable(
            &tls.cert,
            "cert",
            &pem::Error::NoItemsFound,
            "CERTIFICATE",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| unusable(&tls.key, "key", &e, "PRIVATE KEY"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("[server.tls]: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "[server.tls] cert {} and key {} do not make a usable pair: {e}",
                tls.cert.display(),
                tls.key.display()
            )
        })?;
    // The listeners speak both; a client that offers neither gets HTTP/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Why `path` cannot be used. The PEM parser's own messages can quote a line of the file, so
/// they are not repeated: a key file's lines are secret.
fn unusable(path: &Path, field: &str, error: &pem::Error, wanted: &str) -> String {
    let why = match error {
        pem::Error::Io(io) => format!("cannot be read: {io}"),
        pem::Error::NoItemsFound => format!("holds no PEM {wanted} section"),
        _ => "is not a well-formed PEM file".to_owned(),
    };
    format!("[server.tls] {field} {} {why}", path.display())
}
