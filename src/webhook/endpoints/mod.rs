//! Webhook endpoints managed at run time (sections 8 and 12): records in the deployment's store
//! (memory, the embedded database, Redis), shared by every instance and kept across restarts,
//! and the live [`EndpointSet`](crate::webhook::EndpointSet) the publisher and the delivery
//! worker read.
//!
//! An endpoint is owned by the config file (`[[webhooks]]`; its id, `ep_cfg_` and 16 hex
//! digits, derived from its position and URL by [`config_endpoint_id`]) or by the admin API
//! (`ep_` and 128 random bits). [`WebhookEndpoints`] lists them, creates API endpoints with a
//! new secret (returned once), changes their URL and events, deletes them, enables any, and
//! rotates an API endpoint's secret with an overlap during which deliveries carry both
//! signatures. A 410 disables an endpoint in the store, for every instance and across
//! restarts, until it is enabled again.
//!
//! Secrets of API endpoints are stored sealed with AES-256-GCM ([`SecretKey`]: a 32-byte key
//! from `[admin] secret_key_env` or `secret_key_file`, a random 96-bit nonce per sealing, the
//! endpoint's id as associated data so a sealed secret cannot be moved to another endpoint).
//! Without a key, creating an endpoint or rotating a secret is refused
//! ([`EndpointError::NoSecretKey`]); the file's endpoints keep their secrets in the variables
//! the file names, as before.
//!
//! On a shared store (Redis) every instance reads the store's generation every
//! [`POLL_EVERY`] (one `GET`) and reloads the records when it moved: a change made on one
//! instance is in force on the others within a second.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::webhook::EndpointSet;
//! use memorysync_pipeline::webhook::endpoints::{
//!     EndpointsConfig, EndpointState, MemoryEndpointStore, NewEndpoint, SecretKey,
//!     WebhookEndpoints,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let set = EndpointSet::new(Vec::new());
//! let config = EndpointsConfig::new(Environment::Development)
//!     .with_secret_key(Some(SecretKey::generate().unwrap()));
//! let endpoints = WebhookEndpoints::start(MemoryEndpointStore::new(), set.clone(), config).await;
//! let (view, secret) = endpoints
//!     .create(NewEndpoint {
//!         project: Some("proj_a".into()),
//!         url: "https://hooks.example.com/in".into(),
//!         events: vec!["quota.exhausted".into()],
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(view.state, EndpointState::Enabled);
//! assert!(secret.expose().starts_with("whsec_")); // shown this once
//! assert_eq!(set.snapshot().len(), 1); // in force for the worker at once
//! let (_, newer) = endpoints.rotate_secret(&view.id, Duration::from_secs(3600)).await.unwrap();
//! assert_ne!(newer, secret);
//! # });
//! ```
//!
//! # Decisions
//! - A file endpoint's URL, events, projects and secrets change only in the file
//!   ([`EndpointError::OwnedBy`]); its state does not come from the file, so an operator may
//!   enable or disable it through the API, as revocation works on any key.
//! - A new URL in the file is a new endpoint (its id is derived from the URL). Records of file
//!   endpoints that the starting file no longer has are dropped; an endpoint the file has and
//!   the store lacks is enabled.
//! - A stored secret that does not open (no key, another key, tampered) leaves its endpoint
//!   without secrets: its deliveries become dead letters saying so, never unsigned requests,
//!   and a replay after the key is fixed sends them.
//! - Listing by project gives the endpoints scoped to it; operator-wide endpoints appear in the
//!   unfiltered list. A project is not checked against the plans (they may live elsewhere).

mod changes;
mod cipher;
mod error;
mod input;
mod live;
mod manager;
mod record;
mod store;
mod watch;

pub use cipher::{CipherError, SECRET_KEY_LEN, SecretKey};
pub use error::EndpointError;
pub use input::{EndpointPatch, NewEndpoint};
pub use live::config_endpoint_id;
pub use manager::{EndpointsConfig, POLL_EVERY, WebhookEndpoints};
pub use record::{EndpointRecord, EndpointState, EndpointView, SealedSecret};
pub use store::{EndpointStore, MemoryEndpointStore};
