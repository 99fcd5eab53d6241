//! The checks of values the admin API is given: ids, limits, windows, instants; and new random
//! ids.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::problem::AdminError;
use crate::clock::Timestamp;
use crate::config::{RECORD_ID_RULE, is_record_id, redact};
use crate::limit::WindowName;

/// `value` when it follows the record id rule, else 422 naming the field.
pub(crate) fn record_id<'a>(field: &str, value: &'a str) -> Result<&'a str, AdminError> {
    if is_record_id(value) {
        Ok(value)
    } else {
        Err(AdminError::invalid(format!("{field}: {RECORD_ID_RULE}")))
    }
}

/// A rate limit: at least 1, or none.
pub(crate) fn limit_value(field: &str, value: Option<u32>) -> Result<Option<u32>, AdminError> {
    match value {
        Some(0) => Err(AdminError::invalid(format!(
            "{field}: a limit of 0 would refuse every request; revoke the key instead, or send \
             null for no limit"
        ))),
        other => Ok(other),
    }
}

/// A window length written as a duration (`"4s"`, `"10m"`), within its bounds; or none, the
/// deployment's default.
pub(crate) fn window_value(
    window: WindowName,
    text: Option<&str>,
) -> Result<Option<Duration>, AdminError> {
    text.map(|text| {
        // The message quotes what was sent: whatever it holds, never a secret in the answer.
        window
            .parse(text)
            .map_err(|error| AdminError::invalid(redact(&error.to_string())))
    })
    .transpose()
}

/// An RFC 3339 instant.
pub(crate) fn timestamp(field: &str, text: &str) -> Result<Timestamp, AdminError> {
    Timestamp::parse_rfc3339(text)
        .map_err(|_| AdminError::invalid(format!("{field}: not an RFC 3339 instant")))
}

/// `prefix` and 24 random hex digits.
pub(crate) fn new_id(prefix: &str) -> Result<String, AdminError> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|_| no_randomness())?;
    Ok(format!(
        "{prefix}{}",
        base16ct::lower::encode_string(&bytes)
    ))
}

/// 503: the operating system's random number generator failed.
pub(crate) fn no_randomness() -> AdminError {
    AdminError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "no_randomness",
        "the operating system's random number generator failed; nothing was created",
    )
}

/// A field that may be absent (`None`: unchanged), `null` (`Some(None)`: cleared) or a value.
pub(crate) fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
