//! From stored records to the endpoints deliveries go to: the file's endpoints with the state
//! the store keeps for them, and the admin API's with their secrets opened.

use std::collections::HashMap;

use http::Uri;

use super::{EndpointRecord, EndpointState, SecretKey};
use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::store::RecordOwner;
use crate::webhook::endpoint::SigningSecret;
use crate::webhook::{Endpoint, check_url};

/// The endpoints in force given `records`: each of `file` (this process's config endpoints,
/// enabled unless its record says otherwise) and each API record. An API record whose secrets
/// do not open (no key, another key, tampered) is kept without secrets, so that its deliveries
/// become dead letters with the reason rather than vanish; one whose URL the deployment
/// refuses is left out.
pub(super) fn endpoints(
    records: &[EndpointRecord],
    file: &[Endpoint],
    key: Option<&SecretKey>,
    environment: Environment,
) -> Vec<Endpoint> {
    let by_id: HashMap<&str, &EndpointRecord> =
        records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut out: Vec<Endpoint> = file
        .iter()
        .map(|endpoint| {
            let state = by_id
                .get(&*endpoint.id)
                .map_or(EndpointState::Enabled, |record| record.state);
            endpoint.clone().with_state(state)
        })
        .collect();
    for record in records.iter().filter(|r| r.owner == RecordOwner::Api) {
        if let Some(endpoint) = api_endpoint(record, key, environment) {
            out.push(endpoint);
        }
    }
    out
}

fn api_endpoint(
    record: &EndpointRecord,
    key: Option<&SecretKey>,
    environment: Environment,
) -> Option<Endpoint> {
    let id = record.id.as_str();
    let url = match record.url.parse::<Uri>() {
        Ok(url) if check_url(&url, environment).is_ok() => url,
        _ => {
            tracing::error!(
                endpoint = id,
                "a stored webhook endpoint's URL is refused: skipped"
            );
            return None;
        }
    };
    let mut secrets = Vec::with_capacity(record.secrets.len());
    for sealed in &record.secrets {
        let Some(key) = key else {
            tracing::error!(
                endpoint = id,
                "no [admin] secret key: this webhook endpoint's secret cannot be opened"
            );
            break;
        };
        match key.open(id, &sealed.sealed) {
            Ok(secret) => secrets.push(SigningSecret {
                secret,
                until: sealed.until.map(Timestamp::from_unix_millis),
            }),
            Err(error) => tracing::error!(endpoint = id, %error, "webhook endpoint secret"),
        }
    }
    Some(Endpoint {
        id: id.into(),
        url_text: url.to_string().into(),
        url,
        secrets,
        events: record.events.clone(),
        projects: record.projects.clone(),
        state: record.state,
    })
}

/// The id of the file's endpoint at `position` (0-based) with `url`: stable while neither
/// changes, so its state is found again after a restart; a new URL is a new endpoint.
pub fn config_endpoint_id(position: usize, url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{position}\n{url}").as_bytes());
    let hex = base16ct::lower::encode_string(&digest[..8]);
    format!("ep_cfg_{hex}")
}

/// The record of the file's `endpoint`, as first stored at `now`.
pub(super) fn config_record(endpoint: &Endpoint, now: Timestamp) -> EndpointRecord {
    EndpointRecord {
        id: endpoint.id.to_string(),
        owner: RecordOwner::Config,
        projects: endpoint.projects.clone(),
        url: endpoint.url_text.to_string(),
        events: endpoint.events.clone(),
        state: EndpointState::Enabled,
        created_at: now,
        updated_at: now,
        secret_rotation_ends_at: None,
        secrets: Vec::new(),
        revision: 0,
    }
}
