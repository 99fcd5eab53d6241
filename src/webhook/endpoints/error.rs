//! Why an endpoint operation was refused.

use std::fmt;

use crate::store::{RecordOwner, StoreError};

/// Why a change to an endpoint was refused. The messages never carry a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// No endpoint has this id.
    NotFound(String),
    /// The endpoint is managed by its owner: a file's endpoint changes only in the file
    /// (its state excepted: see [`WebhookEndpoints::enable`](super::WebhookEndpoints::enable)).
    OwnedBy {
        /// The endpoint.
        id: String,
        /// Who manages it.
        owner: RecordOwner,
    },
    /// The URL is not one deliveries may go to (in production: `https://` and a globally
    /// routable host).
    InvalidUrl(String),
    /// Another field is not acceptable: an unknown event type, no event, a malformed project.
    Invalid(String),
    /// Creating an endpoint or rotating its secret needs the key that seals secrets, and the
    /// config names none: set `[admin] secret_key_env` or `secret_key_file`.
    NoSecretKey,
    /// Other instances kept changing the endpoint while this change was tried: try again.
    Conflict(String),
    /// The store did not answer.
    Store(StoreError),
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::NotFound(id) => write!(f, "no webhook endpoint `{id}`"),
            EndpointError::OwnedBy { id, owner } => write!(
                f,
                "webhook endpoint `{id}` is managed by its owner ({owner}): change it there"
            ),
            EndpointError::InvalidUrl(why) => write!(f, "webhook endpoint URL: {why}"),
            EndpointError::Invalid(why) => write!(f, "webhook endpoint: {why}"),
            EndpointError::NoSecretKey => f.write_str(
                "no key to seal webhook secrets with: set [admin] secret_key_env or \
                 secret_key_file in the config",
            ),
            EndpointError::Conflict(id) => write!(
                f,
                "webhook endpoint `{id}` changed under this change several times: try again"
            ),
            EndpointError::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for EndpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EndpointError::Store(error) => Some(error),
            _ => None,
        }
    }
}

impl From<StoreError> for EndpointError {
    fn from(error: StoreError) -> Self {
        EndpointError::Store(error)
    }
}
