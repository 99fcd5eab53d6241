use std::sync::Arc;

use http::Uri;

use super::WebhookSecret;

/// A receiver: its URL, the secrets deliveries are signed with (two while rotating), the event
/// types it subscribed to, and the projects whose events it receives (every project's unless
/// scoped with [`Endpoint::with_projects`]).
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub(super) url: Uri,
    pub(super) url_text: Arc<str>,
    pub(super) secrets: Vec<WebhookSecret>,
    pub(super) events: Vec<String>,
    pub(super) projects: Vec<String>,
}

impl Endpoint {
    /// An endpoint at `url` signed with `secret`, subscribed to `events` (empty: every event).
    pub fn new(
        url: Uri,
        secret: WebhookSecret,
        events: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Endpoint {
            url_text: Arc::from(url.to_string()),
            url,
            secrets: vec![secret],
            events: events.into_iter().map(Into::into).collect(),
            projects: Vec::new(),
        }
    }

    /// Also signs with `secret`, for receivers moving to a new secret.
    #[must_use]
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Receives only the events of these projects (a tenant's own receiver). Without it, or
    /// with an empty list, the endpoint is operator-wide: every project's events reach it.
    #[must_use]
    pub fn with_projects(mut self, projects: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.projects = projects.into_iter().map(Into::into).collect();
        self
    }

    /// The URL.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// Whether the endpoint takes events of this type.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }

    /// Whether the endpoint takes events of `project` (`None`: an event of no project, which
    /// only operator-wide endpoints take).
    pub fn serves(&self, project: Option<&str>) -> bool {
        self.projects.is_empty() || project.is_some_and(|p| self.projects.iter().any(|e| e == p))
    }
}
