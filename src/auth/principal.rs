use std::fmt;
use std::sync::Arc;

use tracing::Span;

use crate::environment::Environment;
use crate::key::KeyEntry;

/// Who is calling: put into the request's extensions by [`ApiKeyAuth`](super::ApiKeyAuth).
///
/// It holds the key's public id, project, environment and limits; never the key or its hash.
#[derive(Clone)]
pub struct Principal {
    entry: Arc<KeyEntry>,
}

impl Principal {
    pub(crate) fn new(entry: Arc<KeyEntry>) -> Self {
        Principal { entry }
    }

    /// The key's public id, e.g. `key_demo`.
    pub fn key_id(&self) -> &str {
        &self.entry.record().id
    }

    /// The key id as the shared string the record holds.
    pub(crate) fn key_id_shared(&self) -> &Arc<str> {
        &self.entry.record().id
    }

    /// The key's project.
    pub fn project(&self) -> &str {
        &self.entry.record().project
    }

    /// The project as the shared string the record holds: cloning it allocates nothing.
    pub(crate) fn project_shared(&self) -> &Arc<str> {
        &self.entry.record().project
    }

    /// The key's environment: every request it makes is scoped to it.
    pub fn environment(&self) -> Environment {
        self.entry.record().environment
    }

    /// The key's per-second limit, if any.
    pub fn rps(&self) -> Option<u32> {
        self.entry.record().rps
    }

    /// The key's per-minute limit, if any.
    pub fn rpm(&self) -> Option<u32> {
        self.entry.record().rpm
    }

    /// The key's own per-second window, if it sets one.
    pub fn rps_window(&self) -> Option<std::time::Duration> {
        self.entry.record().rps_window
    }

    /// The key's own per-minute window, if it sets one.
    pub fn rpm_window(&self) -> Option<std::time::Duration> {
        self.entry.record().rpm_window
    }

    /// Records who is calling on a stage's span. Checked first because recording looks the
    /// field up by name even on a span that no subscriber wants.
    pub(crate) fn record_on(&self, span: &Span) {
        if !span.is_disabled() {
            span.record("key_id", self.key_id());
            span.record("project", self.project());
        }
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("key_id", &self.key_id())
            .field("project", &self.project())
            .field("environment", &self.environment())
            .finish()
    }
}
