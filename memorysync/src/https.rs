//! The TLS side of this binary's HTTP clients (the reverse proxy's and the admin CLI's): rustls
//! with the ring provider, over hyper-util's TCP connector.

use std::sync::Arc;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;

/// The certificates an `https://` server is checked against.
pub(crate) enum Roots {
    /// The Mozilla root store (webpki-roots): a server with a publicly trusted certificate.
    Mozilla,
    /// The Mozilla roots and these certificates: a server with a certificate of its own (an
    /// admin listener's, say), given as a PEM file.
    MozillaAnd(Vec<CertificateDer<'static>>),
    /// Exactly these roots: a test's self-signed upstream.
    #[cfg(test)]
    Only(rustls::RootCertStore),
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Roots::Mozilla => f.write_str("Mozilla"),
            Roots::MozillaAnd(extra) => write!(f, "MozillaAnd({} certificates)", extra.len()),
            #[cfg(test)]
            Roots::Only(roots) => write!(f, "Only({} roots)", roots.len()),
        }
    }
}

/// `http` wrapped in TLS for `https://` URIs (HTTP/1.1), `http://` ones passed through.
pub(crate) fn connector(
    mut http: HttpConnector,
    roots: Roots,
) -> Result<HttpsConnector<HttpConnector>, String> {
    // The TLS layer above sends `http` URIs through as they are and handles `https` ones.
    http.enforce_http(false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = match roots {
        Roots::Mozilla => HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("the TLS provider: {e}"))?,
        Roots::MozillaAnd(extra) => {
            let mut store = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let (_, refused) = store.add_parsable_certificates(extra);
            if refused > 0 {
                return Err(format!(
                    "{refused} of the certificates given cannot serve as a root"
                ));
            }
            HttpsConnectorBuilder::new().with_tls_config(client_config(provider, store)?)
        }
        #[cfg(test)]
        Roots::Only(store) => {
            HttpsConnectorBuilder::new().with_tls_config(client_config(provider, store)?)
        }
    };
    Ok(tls.https_or_http().enable_http1().wrap_connector(http))
}

fn client_config(
    provider: Arc<rustls::crypto::CryptoProvider>,
    roots: rustls::RootCertStore,
) -> Result<rustls::ClientConfig, String> {
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("the TLS provider: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
