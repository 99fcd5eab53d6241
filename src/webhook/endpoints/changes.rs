//! The changes [`WebhookEndpoints`] makes: each one read, changed and written back under the
//! revision it read, tried again when another instance wrote first, then in force here at
//! once (the live set is rebuilt) and on other instances at their next poll.

use std::time::Duration;

use super::live::config_record;
use super::{
    EndpointError, EndpointPatch, EndpointRecord, EndpointState, EndpointStore, EndpointView,
    NewEndpoint, SealedSecret, WebhookEndpoints, input,
};
use crate::store::RecordOwner;
use crate::webhook::WebhookSecret;

/// How often a change is tried when other writes keep coming first.
const TRIES: usize = 8;

impl<S: EndpointStore> WebhookEndpoints<S> {
    /// A new endpoint owned by the API, enabled, with a new secret: returned here once, stored
    /// only sealed.
    ///
    /// # Errors
    /// [`EndpointError::NoSecretKey`] without a key in the config; [`EndpointError::InvalidUrl`]
    /// or [`EndpointError::Invalid`] for the fields; the store did not answer.
    pub async fn create(
        &self,
        new: NewEndpoint,
    ) -> Result<(EndpointView, WebhookSecret), EndpointError> {
        let config = &self.inner.config;
        let key = config.key.as_ref().ok_or(EndpointError::NoSecretKey)?;
        let url = input::url(&new.url, config.environment)?;
        let events = input::events(&new.events)?;
        let projects = input::project(new.project.as_deref())?;
        let secret = WebhookSecret::generate().map_err(|_| no_randomness())?;
        let now = config.clock.now();
        for _ in 0..TRIES {
            let id = new_id()?;
            let sealed = key.seal(&id, &secret).map_err(|_| no_randomness())?;
            let record = EndpointRecord {
                id,
                owner: RecordOwner::Api,
                projects: projects.clone(),
                url: url.to_string(),
                events: events.clone(),
                state: EndpointState::Enabled,
                created_at: now,
                updated_at: now,
                secret_rotation_ends_at: None,
                secrets: vec![SealedSecret {
                    sealed,
                    until: None,
                }],
                revision: 1,
            };
            // An id taken already (128 random bits: never, in practice) is drawn again.
            if self.inner.store.put(&record, 0).await? {
                self.reload_after_change().await;
                return Ok((self.view(&record), secret));
            }
        }
        Err(EndpointError::Conflict("a new endpoint".into()))
    }

    /// Changes an endpoint's URL, events or state. A file's endpoint takes only `enabled`.
    ///
    /// # Errors
    /// [`EndpointError::NotFound`], [`EndpointError::OwnedBy`], a field refused, a store error.
    pub async fn update(
        &self,
        id: &str,
        patch: EndpointPatch,
    ) -> Result<EndpointView, EndpointError> {
        let environment = self.inner.config.environment;
        let url = patch
            .url
            .as_deref()
            .map(|text| input::url(text, environment))
            .transpose()?;
        let events = patch.events.as_deref().map(input::events).transpose()?;
        let record = self
            .modify(id, |record| {
                if patch.changes_definition() && record.owner != RecordOwner::Api {
                    return Err(owned_by(record));
                }
                if let Some(url) = &url {
                    record.url = url.to_string();
                }
                if let Some(events) = &events {
                    record.events.clone_from(events);
                }
                match patch.enabled {
                    Some(true) => record.state = EndpointState::Enabled,
                    // An endpoint disabled already keeps the reason it was.
                    Some(false) if record.state.is_enabled() => {
                        record.state = EndpointState::DisabledByOperator;
                    }
                    _ => {}
                }
                Ok(())
            })
            .await?;
        Ok(self.view(&record))
    }

    /// Enables an endpoint, whoever owns it (its state is not the file's to say): after a 410,
    /// or after an operator disabled it.
    ///
    /// # Errors
    /// [`EndpointError::NotFound`], or the store did not answer.
    pub async fn enable(&self, id: &str) -> Result<EndpointView, EndpointError> {
        let patch = EndpointPatch {
            enabled: Some(true),
            ..EndpointPatch::default()
        };
        self.update(id, patch).await
    }

    /// Deletes an API endpoint. Deliveries still queued for it become dead letters.
    ///
    /// # Errors
    /// [`EndpointError::NotFound`], [`EndpointError::OwnedBy`] for a file's endpoint, a store
    /// error.
    pub async fn delete(&self, id: &str) -> Result<(), EndpointError> {
        for _ in 0..TRIES {
            let record = self.current(id).await?;
            if record.owner != RecordOwner::Api {
                return Err(owned_by(&record));
            }
            if self.inner.store.remove(id, record.revision).await? {
                self.reload_after_change().await;
                return Ok(());
            }
        }
        Err(EndpointError::Conflict(id.to_owned()))
    }

    /// A new secret for an API endpoint, returned here once. Deliveries are signed with both
    /// the new and the old secrets until `overlap` has passed, then with the new one only.
    ///
    /// # Errors
    /// [`EndpointError::NoSecretKey`], [`EndpointError::NotFound`], [`EndpointError::OwnedBy`],
    /// a store error.
    pub async fn rotate_secret(
        &self,
        id: &str,
        overlap: Duration,
    ) -> Result<(EndpointView, WebhookSecret), EndpointError> {
        let key = self
            .inner
            .config
            .key
            .as_ref()
            .ok_or(EndpointError::NoSecretKey)?;
        let secret = WebhookSecret::generate().map_err(|_| no_randomness())?;
        let sealed = key.seal(id, &secret).map_err(|_| no_randomness())?;
        let now = self.inner.config.clock.now();
        let ends = now.saturating_add(overlap);
        let record = self
            .modify(id, |record| {
                if record.owner != RecordOwner::Api {
                    return Err(owned_by(record));
                }
                let mut secrets = vec![SealedSecret {
                    sealed: sealed.clone(),
                    until: None,
                }];
                // Old secrets sign until the overlap ends (or until an earlier rotation's end);
                // those whose life is over are dropped.
                for mut old in std::mem::take(&mut record.secrets) {
                    let until = old
                        .until
                        .map_or(ends.unix_millis(), |u| u.min(ends.unix_millis()));
                    if until > now.unix_millis() {
                        old.until = Some(until);
                        secrets.push(old);
                    }
                }
                record.secret_rotation_ends_at = (secrets.len() > 1).then_some(ends);
                record.secrets = secrets;
                Ok(())
            })
            .await?;
        Ok((self.view(&record), secret))
    }

    /// A receiver answered 410 Gone: the endpoint is disabled for every instance, and stays so
    /// across restarts, until enabled. Logged, not returned: the worker has nothing to do with
    /// a failure here but say it.
    pub(super) async fn mark_gone(&self, id: &str) {
        let result = self
            .modify(id, |record| {
                if record.state.is_enabled() {
                    record.state = EndpointState::DisabledGone;
                }
                Ok(())
            })
            .await;
        if let Err(error) = result {
            tracing::error!(endpoint = id, %error, "the 410 of a webhook endpoint is not stored");
        }
    }

    /// Stores the file's endpoints: new ones enabled, known ones with the file's URL, events
    /// and projects and the state they had; records of file endpoints this file lacks are
    /// dropped.
    pub(super) async fn store_file_endpoints(&self) -> Result<(), EndpointError> {
        let file = &self.inner.config.file;
        for endpoint in file {
            let id = endpoint.id.to_string();
            self.modify(&id, |record| {
                let wanted = config_record(endpoint, record.created_at);
                record.projects = wanted.projects;
                record.url = wanted.url;
                record.events = wanted.events;
                Ok(())
            })
            .await?;
        }
        for record in self.inner.store.all().await? {
            let in_file = file.iter().any(|e| *e.id == *record.id);
            if record.owner == RecordOwner::Config && !in_file {
                // Lost to a concurrent write, it is dropped at the next start.
                let _ = self.inner.store.remove(&record.id, record.revision).await?;
            }
        }
        Ok(())
    }

    /// Reads `id`, applies `change`, and writes it back under the revision read; again when
    /// another write came first. A change that changes nothing writes nothing.
    async fn modify(
        &self,
        id: &str,
        change: impl Fn(&mut EndpointRecord) -> Result<(), EndpointError>,
    ) -> Result<EndpointRecord, EndpointError> {
        for _ in 0..TRIES {
            let current = self.current(id).await?;
            let mut next = current.clone();
            change(&mut next)?;
            if next == current && current.revision > 0 {
                return Ok(current);
            }
            next.revision = current.revision + 1;
            next.updated_at = self.inner.config.clock.now().max(current.updated_at);
            if self.inner.store.put(&next, current.revision).await? {
                self.reload_after_change().await;
                return Ok(next);
            }
        }
        Err(EndpointError::Conflict(id.to_owned()))
    }

    /// The change is written: it is in force here now. A reload that fails leaves it to the
    /// next poll (shared store) or change.
    async fn reload_after_change(&self) {
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "webhook endpoints not reloaded after a change");
        }
    }
}

fn owned_by(record: &EndpointRecord) -> EndpointError {
    EndpointError::OwnedBy {
        id: record.id.clone(),
        owner: record.owner,
    }
}

fn no_randomness() -> EndpointError {
    EndpointError::Store(crate::store::StoreError::new("no randomness for a secret"))
}

/// `ep_` and 128 random bits in hex.
fn new_id() -> Result<String, EndpointError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| no_randomness())?;
    Ok(format!("ep_{:032x}", u128::from_be_bytes(bytes)))
}
