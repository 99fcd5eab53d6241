//! What all store traits share: the error of a store that did not answer.

use std::borrow::Cow;
use std::fmt;

/// A store could not answer (unreachable, timed out, or returned something unreadable).
///
/// Stages turn it into the configured failure policy; it never reaches a client as a 500.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    message: Cow<'static, str>,
    /// Not sent: the store already knew it could not answer, so the error cost no wait.
    known_outage: bool,
}

impl StoreError {
    /// An error with this description. It must not contain secrets: it may be logged.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        StoreError {
            message: message.into(),
            known_outage: false,
        }
    }

    /// A call the store did not send, knowing it cannot answer now: asking again costs nothing.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn known_outage(message: impl Into<Cow<'static, str>>) -> Self {
        StoreError {
            known_outage: true,
            ..StoreError::new(message)
        }
    }

    /// Whether the call failed at once because the store knew it could not answer.
    pub(crate) fn is_known_outage(&self) -> bool {
        self.known_outage
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

pub(crate) mod breaker;
mod config_version;
pub(crate) mod fallback;
mod owner;
mod policy;
pub(crate) mod refusals;

pub use config_version::{
    AppliedConfig, ConfigClaim, ConfigDigest, ConfigVersionStore, MemoryConfigVersions,
};
pub use fallback::WithFallback;
pub use owner::RecordOwner;
pub use policy::StoreErrorPolicy;
