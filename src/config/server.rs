//! `[server]`: what keeps one client from holding the server, and how long shutdown may take;
//! `[server.tls]`: the certificate and key of HTTPS.

use std::io::Read;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::ConfigError;
use super::raw::{RawServer, RawTls};

/// `[server]`: connection limits, the body limit and the shutdown grace of the HTTP server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// How long a client may take to send a request's header fields, and to start the next
    /// request on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// The largest request body accepted; above it, 413 `payload_too_large`.
    pub max_body_bytes: u64,
    /// How long shutdown may take, from the signal to the exit.
    pub shutdown_grace: Duration,
    /// This process's audit chain: its name among the instances sharing a store. When unset,
    /// the audit directory keeps a generated one (see [`crate::audit::instance_in_dir`]).
    pub instance: Option<String>,
    /// `[server.tls]`: serve HTTPS instead of plain HTTP, on every listener.
    pub tls: Option<TlsConfig>,
    /// `allow_plaintext_admin = true`: the admin listener may serve plain HTTP on an address
    /// other than loopback (admin tokens then cross the network in clear; for a private
    /// network whose links are encrypted otherwise). Default `false`.
    pub allow_plaintext_admin: bool,
}

/// `[server.tls]`: PEM files, relative to the working directory like `audit.dir`. Both are
/// checked readable when the config is read, so that a wrong path fails at startup with its
/// line, not at the first connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1). Only its path is ever printed.
    pub key: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Duration::from_millis(5_000),
            idle_timeout: Duration::from_millis(60_000),
            max_connections: 10_000,
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_grace: Duration::from_millis(30_000),
            instance: None,
            tls: None,
            allow_plaintext_admin: false,
        }
    }
}

/// The longest timeout or grace accepted: one hour.
const MAX_MS: u64 = 3_600_000;
/// The most connections accepted: beyond, file descriptors run out first.
const MAX_CONNECTIONS: u64 = 1_000_000;
/// The largest body limit accepted: 1 GiB.
const MAX_BODY: u64 = 1 << 30;

/// Checks `[server]`; `line_of` turns a value's span into its line.
pub(super) fn validate(
    raw: RawServer,
    line_of: impl Fn(Range<usize>) -> usize,
) -> Result<ServerConfig, ConfigError> {
    let error =
        |at: &Spanned<u64>, message: String| ConfigError::at_line(line_of(at.span()), message);
    let instance = match raw.instance {
        None => None,
        Some(name) if crate::audit::is_instance_name(name.get_ref()) => Some(name.into_inner()),
        Some(name) => {
            return Err(ConfigError::at_line(
                line_of(name.span()),
                crate::audit::INSTANCE_NAME_RULE,
            ));
        }
    };
    let defaults = ServerConfig::default();
    let bounded = |value: Option<Spanned<u64>>, name: &str, max: u64| match value {
        None => Ok(None),
        Some(v) if (1..=max).contains(v.get_ref()) => Ok(Some(*v.get_ref())),
        Some(v) => Err(error(&v, format!("{name} must be from 1 to {max}"))),
    };
    let millis = |value, name, default: Duration| {
        bounded(value, name, MAX_MS).map(|v| v.map_or(default, Duration::from_millis))
    };
    Ok(ServerConfig {
        header_read_timeout: millis(
            raw.header_read_timeout_ms,
            "header_read_timeout_ms",
            defaults.header_read_timeout,
        )?,
        idle_timeout: millis(
            raw.idle_timeout_ms,
            "idle_timeout_ms",
            defaults.idle_timeout,
        )?,
        max_connections: bounded(raw.max_connections, "max_connections", MAX_CONNECTIONS)?
            .map_or(defaults.max_connections, |n| n as usize),
        max_body_bytes: bounded(raw.max_body_bytes, "max_body_bytes", MAX_BODY)?
            .unwrap_or(defaults.max_body_bytes),
        shutdown_grace: millis(
            raw.shutdown_grace_ms,
            "shutdown_grace_ms",
            defaults.shutdown_grace,
        )?,
        instance,
        tls: raw.tls.map(|tls| validate_tls(tls, &line_of)).transpose()?,
        allow_plaintext_admin: raw.allow_plaintext_admin.unwrap_or(false),
    })
}

/// Both paths or neither, each a file this process can read.
fn validate_tls(
    raw: Spanned<RawTls>,
    line_of: impl Fn(Range<usize>) -> usize,
) -> Result<TlsConfig, ConfigError> {
    let table_line = line_of(raw.span());
    let RawTls { cert, key } = raw.into_inner();
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(ConfigError::at_line(
            table_line,
            "[server.tls] needs both `cert` and `key` (PEM file paths), or leave the table out",
        ));
    };
    let readable = |path: Spanned<String>, name: &str| {
        let line = line_of(path.span());
        let file = PathBuf::from(path.into_inner());
        let mut first = [0u8; 1];
        // Reading one byte also refuses a directory, which opens but does not read.
        let why = match std::fs::File::open(&file).and_then(|mut f| f.read(&mut first)) {
            Ok(1..) => return Ok(file),
            Ok(_) => "is empty".to_owned(),
            Err(error) => format!("cannot be read: {error}"),
        };
        let message = format!("[server.tls] {name} {} {why}", file.display());
        Err(ConfigError::at_line(line, message))
    };
    Ok(TlsConfig {
        cert: readable(cert, "cert")?,
        key: readable(key, "key")?,
    })
}
