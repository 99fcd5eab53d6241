//! Deployment and key environments.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where data lives: development and production data never mix.
///
/// A key belongs to one environment (its `msk_test_` / `msk_live_` tag says which), requests are
/// scoped to the key's environment, and a production deployment refuses development keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Development and test data; keys tagged `msk_test_`.
    Development,
    /// Production data; keys tagged `msk_live_`.
    Production,
}

impl Environment {
    /// `development` or `production`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }

    /// The tag in a key of this environment: `test` or `live`.
    pub const fn key_tag(self) -> &'static str {
        match self {
            Environment::Development => "test",
            Environment::Production => "live",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was neither `development` nor `production`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownEnvironment;

impl fmt::Display for UnknownEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("environment must be \"development\" or \"production\"")
    }
}

impl std::error::Error for UnknownEnvironment {}

impl FromStr for Environment {
    type Err = UnknownEnvironment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "development" => Ok(Environment::Development),
            "production" => Ok(Environment::Production),
            _ => Err(UnknownEnvironment),
        }
    }
}
