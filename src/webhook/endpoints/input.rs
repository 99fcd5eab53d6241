//! What an operator asks for ([`NewEndpoint`], [`EndpointPatch`]) and the checks on it.

use http::Uri;

use super::EndpointError;
use crate::config::{WEBHOOK_EVENTS, is_record_id};
use crate::environment::Environment;
use crate::webhook::check_url;

/// The longest URL accepted.
const MAX_URL: usize = 2048;

/// A new endpoint, owned by the admin API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEndpoint {
    /// The project whose events it receives; `None`: every project's (operator-wide).
    pub project: Option<String>,
    /// Where deliveries go.
    pub url: String,
    /// The event types it takes: at least one, each of
    /// [`WEBHOOK_EVENTS`](crate::config::WEBHOOK_EVENTS).
    pub events: Vec<String>,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointPatch {
    /// A new URL: deliveries already queued go there too (they name the endpoint by id).
    pub url: Option<String>,
    /// New event types.
    pub events: Option<Vec<String>>,
    /// `true` enables it (also after a 410), `false` disables it (`disabled_by_operator`).
    pub enabled: Option<bool>,
}

impl EndpointPatch {
    /// Whether it changes what only the endpoint's owner may change (URL, events), as opposed
    /// to its state.
    pub(super) fn changes_definition(&self) -> bool {
        self.url.is_some() || self.events.is_some()
    }
}

/// A URL deliveries may go to from a deployment of `environment`: `http(s)://` with a host,
/// and in production `https://` to a global address (a name is checked again on each
/// resolved address when delivering).
pub(super) fn url(text: &str, environment: Environment) -> Result<Uri, EndpointError> {
    let text = text.trim();
    if text.len() > MAX_URL {
        return Err(EndpointError::InvalidUrl(format!(
            "longer than {MAX_URL} bytes"
        )));
    }
    let uri: Uri = text
        .parse()
        .map_err(|_| EndpointError::InvalidUrl("not a URL".into()))?;
    // A user and password in the URL would be stored in clear, shown in every answer and
    // logged: a receiver authenticates deliveries by their signature instead.
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(EndpointError::InvalidUrl(
            "a webhook URL carries no user or password: receivers check the signature".into(),
        ));
    }
    check_url(&uri, environment).map_err(|e| EndpointError::InvalidUrl(e.to_string()))?;
    Ok(uri)
}

/// At least one event, each known, none twice.
pub(super) fn events(list: &[String]) -> Result<Vec<String>, EndpointError> {
    if list.is_empty() {
        return Err(EndpointError::Invalid(
            "at least one event is needed".into(),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for event in list {
        if !WEBHOOK_EVENTS.contains(&event.as_str()) {
            return Err(EndpointError::Invalid(format!(
                "unknown event; known: {}",
                WEBHOOK_EVENTS.join(", ")
            )));
        }
        if !out.contains(event) {
            out.push(event.clone());
        }
    }
    Ok(out)
}

/// A project id by the record id rule.
pub(super) fn project(project: Option<&str>) -> Result<Vec<String>, EndpointError> {
    match project {
        None => Ok(Vec::new()),
        Some(id) if is_record_id(id) => Ok(vec![id.to_owned()]),
        Some(_) => Err(EndpointError::Invalid(format!(
            "project: {}",
            crate::config::RECORD_ID_RULE
        ))),
    }
}
