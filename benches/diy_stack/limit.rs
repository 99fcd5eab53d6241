//! `tower_governor` keyed by the API key the auth layer admitted.

use std::time::Duration;

use axum::body::Body;
use governor::middleware::NoOpMiddleware;
use http::Request;
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use crate::keys::KeyId;

/// Reads the [`KeyId`] the auth layer put in the extensions, so unknown keys never get a
/// bucket of their own.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ByApiKey;

impl KeyExtractor for ByApiKey {
    type Key = KeyId;

    fn extract<T>(&self, request: &Request<T>) -> Result<KeyId, GovernorError> {
        request
            .extensions()
            .get::<KeyId>()
            .cloned()
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

/// The layer type `per_key` returns.
pub(crate) type PerKeyLimit = tower_governor::GovernorLayer<ByApiKey, NoOpMiddleware, Body>;

/// `rps` requests a second for each key, and bursts of as many.
pub(crate) fn per_key(rps: u32) -> Result<PerKeyLimit, String> {
    // A period shorter than governor's nanosecond would round to zero.
    let period = Duration::from_secs(1) / rps.max(1);
    let config = GovernorConfigBuilder::default()
        .key_extractor(ByApiKey)
        .period(period)
        .burst_size(rps)
        .finish()
        .ok_or_else(|| format!("rps {rps}: governor takes 1 to 1000000000 requests a second"))?;
    Ok(tower_governor::GovernorLayer::new(config))
}
