//! `ProjectScope`: stage 4, project and environment scoping.
//!
//! Every API call names its project in `X-Project-ID`. The stage refuses a request whose header
//! is missing, empty, repeated or unreadable (400 `missing_project_id`) or names another project
//! than the key's (403 `project_mismatch`), and passes the rest inward with a [`Scope`]: the
//! key's project and the key's environment. The environment never comes from the request, so a
//! development key cannot reach production data.
//!
//! It reads the [`Principal`](crate::auth::Principal) that [`ApiKeyAuth`](crate::auth::ApiKeyAuth)
//! leaves; a request without one is refused with 401 `missing_api_key`.
//!
//! # Example
//! ```
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::auth::ApiKeyAuthLayer;
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
//! use memorysync_pipeline::scope::{ProjectScopeLayer, Scope};
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
//!     .layer(ProjectScopeLayer::new())
//!     .service(service_fn(|request: http::Request<String>| async move {
//!         let scope = request.extensions().get::<Scope>().unwrap();
//!         assert_eq!(scope.environment(), Environment::Development);
//!         Ok::<_, std::convert::Infallible>(http::Response::new(scope.project().to_owned()))
//!     }));
//!
//! let request = |project: &str| {
//!     http::Request::builder()
//!         .header("x-api-key", key.expose_secret())
//!         .header("x-project-id", project)
//!         .body(String::new())
//!         .unwrap()
//! };
//! assert_eq!(service.clone().oneshot(request("proj_demo")).await.unwrap().status(), 200);
//! assert_eq!(service.oneshot(request("proj_other")).await.unwrap().status(), 403);
//! # });
//! ```

mod decide;
#[allow(clippy::module_inception)]
mod scope;
mod service;

pub use decide::X_PROJECT_ID;
pub use scope::Scope;
pub use service::{ProjectScope, ProjectScopeLayer};
