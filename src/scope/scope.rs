use std::sync::Arc;

use crate::environment::Environment;

/// The data a request may touch: one project, in one environment. Put into the request's
/// extensions by [`ProjectScope`](super::ProjectScope).
///
/// Handlers key every read and write by the whole scope, so development and production data of
/// one project never mix: the environment always comes from the key, never from the request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    project: Arc<str>,
    environment: Environment,
}

impl Scope {
    /// A scope, for handlers' own tests; the stage builds it from the key.
    pub fn new(project: impl Into<Arc<str>>, environment: Environment) -> Self {
        Scope {
            project: project.into(),
            environment,
        }
    }

    /// The project id.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The project id as the shared string the key record holds: cloning it allocates nothing.
    pub(crate) fn project_shared(&self) -> &Arc<str> {
        &self.project
    }

    /// The environment.
    pub fn environment(&self) -> Environment {
        self.environment
    }
}
