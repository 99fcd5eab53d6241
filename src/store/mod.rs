//! What all store traits share: the error of a store that did not answer.

use std::borrow::Cow;
use std::fmt;

/// A store could not answer (unreachable, timed out, or returned something unreadable).
///
/// Stages turn it into the configured failure policy; it never reaches a client as a 500.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    message: Cow<'static, str>,
}

impl StoreError {
    /// An error with this description. It must not contain secrets: it may be logged.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        StoreError {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

pub(crate) mod breaker;
pub(crate) mod fallback;
mod policy;

pub use fallback::WithFallback;
pub use policy::StoreErrorPolicy;
