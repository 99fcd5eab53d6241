//! Where the admin API is and how to prove who calls: the admin URL (`--admin-url` or
//! `MEMORYSYNC_ADMIN_URL`), the admin token read from the variable `--token-env` names, and the
//! roots `--ca-file` adds.

use std::ffi::OsString;
use std::path::Path;

use http::Uri;
use memorysync_pipeline::key::AdminToken;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{self, PemObject};

use super::failure::{Failure, usage};

/// The variable read for the admin URL when `--admin-url` is not given.
pub(crate) const URL_VARIABLE: &str = "MEMORYSYNC_ADMIN_URL";

/// What an admin URL looks like, for the messages.
const URL_SHAPE: &str = "http://HOST[:PORT][/BASE] or https://..., without credentials, query \
                         or fragment";

/// An admin listener's address: scheme, authority and an optional base path before
/// `/admin/v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AdminUrl {
    /// `http://host:port` or `https://...`, and the base path without its trailing `/`.
    pub(crate) base: String,
    /// Whether the token would cross a network in clear: `http://` to a host that is not
    /// loopback.
    pub(crate) plaintext_off_loopback: bool,
}

impl AdminUrl {
    /// The URL of `--admin-url`, else of [`URL_VARIABLE`] (read through `variable`).
    pub(crate) fn resolve(
        given: Option<&str>,
        variable: impl Fn(&str) -> Option<OsString>,
    ) -> Result<AdminUrl, Failure> {
        if let Some(text) = given {
            return AdminUrl::parse(text).ok_or_else(|| usage(format!("--admin-url: {URL_SHAPE}")));
        }
        let Some(value) = variable(URL_VARIABLE) else {
            return Err(usage(format!(
                "no admin URL: give --admin-url URL or set {URL_VARIABLE}"
            )));
        };
        value
            .to_str()
            .and_then(AdminUrl::parse)
            .ok_or_else(|| usage(format!("{URL_VARIABLE}: {URL_SHAPE}")))
    }

    /// `text` when it is an `http://` or `https://` URL with a host and nothing a base URL
    /// should not have. Credentials in it are refused: the URL is shown in messages.
    pub(crate) fn parse(text: &str) -> Option<AdminUrl> {
        // `http::Uri` drops a fragment without a word: the text is checked for one first.
        if text.contains('#') {
            return None;
        }
        let uri: Uri = text.parse().ok()?;
        let scheme = uri
            .scheme_str()
            .filter(|s| matches!(*s, "http" | "https"))?;
        let authority = uri.authority()?;
        let host = authority.host();
        if host.is_empty() || authority.as_str().contains('@') || uri.query().is_some() {
            return None;
        }
        let path = uri.path().trim_end_matches('/');
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        Some(AdminUrl {
            base: format!("{scheme}://{authority}{path}"),
            plaintext_off_loopback: scheme == "http" && !loopback,
        })
    }
}

/// The admin token in the variable `name`, read through `variable`. The messages name the
/// variable and never show what it holds.
pub(crate) fn token(
    name: &str,
    variable: impl Fn(&str) -> Option<OsString>,
) -> Result<AdminToken, Failure> {
    // A token given as the name would be echoed by "is not set"; a name is never one.
    let is_name = !name.is_empty()
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !is_name || name.starts_with("msa_") || name.starts_with("msk_") {
        return Err(usage(
            "--token-env takes the name of an environment variable (letters, digits and `_`), \
             and the token goes in that variable: no argument takes a token",
        ));
    }
    let Some(value) = variable(name) else {
        return Err(Failure::Other(format!(
            "{name} is not set: put an admin token (msa_...) in it, or name another variable \
             with --token-env"
        )));
    };
    AdminToken::parse_bytes(value.as_encoded_bytes().trim_ascii()).map_err(|e| {
        Failure::Other(format!(
            "{name} does not hold an admin token: {}",
            e.message()
        ))
    })
}

/// The certificates of the PEM file `path`. The PEM parser's messages can quote the file's
/// lines, so they are not repeated.
pub(crate) fn ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            let why = match e {
                pem::Error::Io(io) => format!("cannot be read: {io}"),
                _ => "is not a well-formed PEM file".to_owned(),
            };
            Failure::Other(format!("--ca-file {} {why}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(Failure::Other(format!(
            "--ca-file {} holds no PEM CERTIFICATE section",
            path.display()
        )));
    }
    Ok(certs)
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
