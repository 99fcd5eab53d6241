//! The outage policy: what a stage answers while its shared store does not.

/// What the pipeline does while its store is unreachable (`on_store_error` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreErrorPolicy {
    /// Fall back to per-instance state.
    #[default]
    Local,
    /// Admit requests unchecked.
    Allow,
    /// Refuse with 503 `store_unavailable`.
    Deny,
}
