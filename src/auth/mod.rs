//! `ApiKeyAuth`: stage 3, API-key authentication (section 4).
//!
//! Reads the key from `Authorization: Bearer <key>` (the scheme in any case) or `X-API-Key`,
//! refuses a malformed key by its checksum before any store look-up, looks the record up by the
//! key's SHA-256, refuses unknown, revoked and expired keys, counts the request against the key's
//! usage and passes the request inward with a [`Principal`] in its extensions. Every refusal is a
//! 401 problem with `WWW-Authenticate: Bearer` (or gRPC `UNAUTHENTICATED`).
//!
//! # Example
//! ```
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::auth::{ApiKeyAuthLayer, Principal};
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let key = ApiKey::generate(Environment::Development).unwrap();
//! let store = MemoryKeyStore::new();
//! let record = KeyRecord::new("key_demo", key.hash(), "proj_demo", Environment::Development);
//! store.insert(record, Timestamp::EPOCH).await.unwrap();
//!
//! let service = ServiceBuilder::new()
//!     .layer(ApiKeyAuthLayer::new(store, Environment::Development))
//!     .service(service_fn(|request: http::Request<String>| async move {
//!         let principal = request.extensions().get::<Principal>().unwrap();
//!         Ok::<_, std::convert::Infallible>(http::Response::new(principal.key_id().to_owned()))
//!     }));
//!
//! let request = http::Request::builder()
//!     .header("authorization", format!("Bearer {}", key.expose_secret()))
//!     .body(String::new())
//!     .unwrap();
//! assert_eq!(service.clone().oneshot(request).await.unwrap().status(), 200);
//!
//! let anonymous = http::Request::new(String::new());
//! assert_eq!(service.oneshot(anonymous).await.unwrap().status(), 401);
//! # });
//! ```
//!
//! # Decisions
//!
//! Where the design is silent:
//! - Both headers present and equal is accepted; present and different is `malformed_api_key`.
//!   Either header given twice is `malformed_api_key`.
//! - An `Authorization` header with another scheme (`Basic ...`) is `malformed_api_key`.
//! - The deployment is an argument of [`ApiKeyAuthLayer::new`], with no default, so a
//!   production pipeline cannot be built without saying so. A production deployment refuses
//!   development keys as `invalid_api_key`, before any look-up.
//! - A key store that does not answer gives 503 `store_unavailable`; on a shared store,
//!   `on_store_error` decides instead (see [`crate::store::WithFallback`]).

mod credentials;
mod future;
mod layer;
mod principal;
mod service;

pub use future::ResponseFuture;
pub use layer::ApiKeyAuthLayer;
pub use principal::Principal;
pub use service::ApiKeyAuth;
