use std::sync::Arc;

use http::Uri;

use super::WebhookSecret;

/// A receiver: its URL, the secrets deliveries are signed with (two while rotating), and the
/// event types it subscribed to.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub(super) url: Uri,
    pub(super) url_text: Arc<str>,
    pub(super) secrets: Vec<WebhookSecret>,
    pub(super) events: Vec<String>,
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
        }
    }

    /// Also signs with `secret`, for receivers moving to a new secret.
    #[must_use]
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
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
}
