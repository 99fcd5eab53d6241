//! An endpoint as the store holds it ([`EndpointRecord`], sealed secrets included) and as the
//! admin API shows it ([`EndpointView`], never a secret).

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::clock::Timestamp;
use crate::store::{RecordOwner, StoreError};

/// Whether deliveries go to an endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    /// Deliveries go out.
    #[default]
    Enabled,
    /// The receiver answered 410 Gone: disabled for every instance until enabled again.
    DisabledGone,
    /// An operator disabled it.
    DisabledByOperator,
}

impl EndpointState {
    /// `enabled`, `disabled_gone` or `disabled_by_operator`, as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            EndpointState::Enabled => "enabled",
            EndpointState::DisabledGone => "disabled_gone",
            EndpointState::DisabledByOperator => "disabled_by_operator",
        }
    }

    /// Whether deliveries go out.
    pub const fn is_enabled(self) -> bool {
        matches!(self, EndpointState::Enabled)
    }
}

impl fmt::Display for EndpointState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One signing secret of an endpoint, sealed (see [`SecretKey`](super::SecretKey)); `until`
/// is set on the old secret of a rotation: it signs until then.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// `v1.<base64 of nonce and ciphertext>`.
    pub sealed: String,
    /// The end of its signing life, in unix milliseconds; absent: for as long as it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("sealed", &"<redacted>")
            .field("until", &self.until)
            .finish()
    }
}

/// An endpoint as stored. Config endpoints are stored without secrets (each instance reads
/// them from the variables its file names); API endpoints with their secrets sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointRecord {
    /// `ep_` and 32 hex digits (API), or `ep_cfg_` and 16 derived from the file (config).
    pub id: String,
    /// Who manages it.
    pub owner: RecordOwner,
    /// The projects whose events it receives; empty: every project's (operator-wide).
    pub projects: Vec<String>,
    /// Where deliveries go.
    pub url: String,
    /// The event types it takes.
    pub events: Vec<String>,
    /// Whether deliveries go out.
    pub state: EndpointState,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// While a rotation's old secret still signs: when it stops.
    pub secret_rotation_ends_at: Option<Timestamp>,
    /// The signing secrets, newest first (API endpoints only).
    pub secrets: Vec<SealedSecret>,
    /// Bumped by every write: a write names the revision it read, so two instances changing
    /// one record at once cannot both win.
    pub revision: u64,
}

/// The stored form: instants in unix milliseconds.
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    owner: RecordOwner,
    #[serde(default)]
    projects: Vec<String>,
    url: String,
    events: Vec<String>,
    state: EndpointState,
    created_at: i64,
    updated_at: i64,
    #[serde(default)]
    secret_rotation_ends_at: Option<i64>,
    #[serde(default)]
    secrets: Vec<SealedSecret>,
    revision: u64,
}

impl EndpointRecord {
    /// A record of `owner` at `url` taking `events`, created at `at`: operator-wide, enabled,
    /// without secrets, at revision 1.
    pub fn new(
        id: impl Into<String>,
        owner: RecordOwner,
        url: impl Into<String>,
        events: Vec<String>,
        at: Timestamp,
    ) -> Self {
        EndpointRecord {
            id: id.into(),
            owner,
            projects: Vec::new(),
            url: url.into(),
            events,
            state: EndpointState::Enabled,
            created_at: at,
            updated_at: at,
            secret_rotation_ends_at: None,
            secrets: Vec::new(),
            revision: 1,
        }
    }

    /// The record as JSON, the form every backend stores.
    pub fn to_json(&self) -> String {
        let stored = Stored {
            id: self.id.clone(),
            owner: self.owner,
            projects: self.projects.clone(),
            url: self.url.clone(),
            events: self.events.clone(),
            state: self.state,
            created_at: self.created_at.unix_millis(),
            updated_at: self.updated_at.unix_millis(),
            secret_rotation_ends_at: self.secret_rotation_ends_at.map(Timestamp::unix_millis),
            secrets: self.secrets.clone(),
            revision: self.revision,
        };
        // Strings, numbers and enums always serialize.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// [`EndpointRecord::to_json`] read back.
    ///
    /// # Errors
    /// Text that is not a stored endpoint.
    pub fn from_json(text: &str) -> Result<Self, StoreError> {
        let stored: Stored = serde_json::from_str(text)
            .map_err(|_| StoreError::new("an unreadable webhook endpoint record"))?;
        Ok(EndpointRecord {
            id: stored.id,
            owner: stored.owner,
            projects: stored.projects,
            url: stored.url,
            events: stored.events,
            state: stored.state,
            created_at: Timestamp::from_unix_millis(stored.created_at),
            updated_at: Timestamp::from_unix_millis(stored.updated_at),
            secret_rotation_ends_at: stored
                .secret_rotation_ends_at
                .map(Timestamp::from_unix_millis),
            secrets: stored.secrets,
            revision: stored.revision,
        })
    }

    /// What the admin API shows of it.
    pub fn view(&self) -> EndpointView {
        EndpointView {
            id: self.id.clone(),
            owner: self.owner,
            project: match self.projects.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            },
            projects: self.projects.clone(),
            url: self.url.clone(),
            events: self.events.clone(),
            state: self.state,
            created_at: self.created_at,
            updated_at: self.updated_at,
            secret_rotation_ends_at: self.secret_rotation_ends_at,
        }
    }
}

/// An endpoint as the admin API shows it: everything but its secrets. Serializes with
/// RFC 3339 times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EndpointView {
    /// Its id.
    pub id: String,
    /// `config` (changed only in the file) or `api`.
    pub owner: RecordOwner,
    /// Its project; `None` for an operator-wide endpoint (and for a file's endpoint scoped to
    /// several projects: see `projects`).
    pub project: Option<String>,
    /// Every project it serves; empty for an operator-wide endpoint.
    pub projects: Vec<String>,
    /// Where deliveries go.
    pub url: String,
    /// The event types it takes.
    pub events: Vec<String>,
    /// Whether deliveries go out.
    pub state: EndpointState,
    /// When it was created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: Timestamp,
    /// When it last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: Timestamp,
    /// While a rotation's old secret still signs: when it stops.
    #[serde(serialize_with = "rfc3339_or_null")]
    pub secret_rotation_ends_at: Option<Timestamp>,
}

fn rfc3339<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339())
}

fn rfc3339_or_null<S: Serializer>(
    at: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&at.to_rfc3339()),
        None => serializer.serialize_none(),
    }
}
