use std::sync::Arc;

use http::Uri;

use super::WebhookSecret;
use super::endpoints::EndpointState;
use crate::clock::Timestamp;

/// A receiver: its id, its URL, the secrets deliveries are signed with (two while rotating),
/// the event types it subscribed to, the projects whose events it receives (every project's
/// unless scoped with [`Endpoint::with_projects`]), and whether it is enabled.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub(super) id: Arc<str>,
    pub(super) url: Uri,
    pub(super) url_text: Arc<str>,
    pub(super) secrets: Vec<SigningSecret>,
    pub(super) events: Vec<String>,
    pub(super) projects: Vec<String>,
    pub(super) state: EndpointState,
}

/// A secret and, for the old one of a rotation, the end of its signing life.
#[derive(Clone, Debug)]
pub(super) struct SigningSecret {
    pub(super) secret: WebhookSecret,
    pub(super) until: Option<Timestamp>,
}

impl Endpoint {
    /// An endpoint at `url` signed with `secret`, subscribed to `events` (empty: every event).
    /// Its id is its URL until [`Endpoint::with_id`] gives another.
    pub fn new(
        url: Uri,
        secret: WebhookSecret,
        events: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let url_text: Arc<str> = Arc::from(url.to_string());
        Endpoint {
            id: Arc::clone(&url_text),
            url_text,
            url,
            secrets: vec![SigningSecret {
                secret,
                until: None,
            }],
            events: events.into_iter().map(Into::into).collect(),
            projects: Vec::new(),
            state: EndpointState::Enabled,
        }
    }

    /// Names the endpoint: deliveries carry the id, so they follow the endpoint when its URL
    /// changes.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.id = id.into();
        self
    }

    /// Also signs with `secret`, for receivers moving to a new secret.
    #[must_use]
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(SigningSecret {
            secret,
            until: None,
        });
        self
    }

    /// Also signs with `secret` until `until` (the old secret of a rotation), then no more.
    #[must_use]
    pub fn with_secret_until(mut self, secret: WebhookSecret, until: Timestamp) -> Self {
        self.secrets.push(SigningSecret {
            secret,
            until: Some(until),
        });
        self
    }

    /// Receives only the events of these projects (a tenant's own receiver). Without it, or
    /// with an empty list, the endpoint is operator-wide: every project's events reach it.
    #[must_use]
    pub fn with_projects(mut self, projects: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.projects = projects.into_iter().map(Into::into).collect();
        self
    }

    /// In this state: a disabled endpoint's deliveries become dead letters (replayable once it
    /// is enabled), so that nothing published vanishes.
    #[must_use]
    pub fn with_state(mut self, state: EndpointState) -> Self {
        self.state = state;
        self
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The URL.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// Whether deliveries go to it.
    pub fn state(&self) -> EndpointState {
        self.state
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

    /// While an old secret still signs beside the new one at `now`: when the last one stops.
    pub fn rotating_until(&self, now: Timestamp) -> Option<Timestamp> {
        self.secrets
            .iter()
            .filter_map(|s| s.until)
            .filter(|until| now < *until)
            .max()
    }

    /// The secrets that sign at `now`: each, unless its signing life ended.
    pub(super) fn signing_secrets(&self, now: Timestamp) -> Vec<WebhookSecret> {
        self.secrets
            .iter()
            .filter(|s| s.until.is_none_or(|until| now < until))
            .map(|s| s.secret.clone())
            .collect()
    }
}
