//! The pipeline builder and its compile-time ordering check (section 2).
//!
//! The stages go outermost first: [`HealthRoute`](crate::health), [`AuditRecord`](crate::audit),
//! [`ApiKeyAuth`](crate::auth), [`ProjectScope`](crate::scope),
//! [`SlidingWindowRateLimit`](crate::limit), [`QuotaDegrade`](crate::quota). Health probes must
//! not need a key nor flood the audit log; the audit log must see every call, so it wraps the
//! stages that reject; the limiter needs the key's identity; the quota is spent only by requests
//! the limiter admitted.
//!
//! Any stage may be left out, and the user's own layers may stand between stages. Placing the
//! stages in any other order, or one twice, does not compile:
//!
//! ```compile_fail
//! use memorysync_pipeline::pipeline::PipelineBuilder;
//! use memorysync_pipeline::{health::HealthRouteLayer, scope::ProjectScopeLayer};
//!
//! // error: pipeline order: `ProjectScope` cannot be placed after ...
//! let _ = PipelineBuilder::new()
//!     .stage(ProjectScopeLayer::new())
//!     .stage(HealthRouteLayer::new());
//! ```
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use memorysync_pipeline::pipeline::PipelineBuilder;
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::{auth::ApiKeyAuthLayer, health::HealthRouteLayer, key::MemoryKeyStore};
//! use memorysync_pipeline::scope::ProjectScopeLayer;
//! use tower::{ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let pipeline = PipelineBuilder::new()
//!     .stage(HealthRouteLayer::new())
//!     .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(10)))
//!     .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Development))
//!     .stage(ProjectScopeLayer::new())
//!     .into_layer();
//!
//! let service = pipeline.around(service_fn(|_: http::Request<String>| async {
//!     Ok::<_, tower::BoxError>(http::Response::new(String::new()))
//! }));
//! let health = http::Request::get("/health").body(String::new()).unwrap();
//! assert_eq!(service.clone().oneshot(health).await.unwrap().status(), 200);
//! let anonymous = http::Request::get("/v1/memories").body(String::new()).unwrap();
//! assert_eq!(service.oneshot(anonymous).await.unwrap().status(), 401);
//! # });
//! ```
//!
//! # axum: wrap the finished router, not `Router::layer`
//!
//! axum's `Router::layer` wraps only the routes and the fallback the router has when it is
//! called. A `merge`, `nest` or `fallback` after it brings routes and a fallback of their own,
//! outside the layer: after `api.layer(pipeline).merge(metrics)`, `GET /health` is a 404 (the
//! health stage answers only requests that reach it) and an unrouted `GET /admin` is a 404 that
//! no stage authenticated or audited. [`PipelineLayer::around`] wraps the finished router as one
//! service instead: every request goes through the stages, routed or not. A route meant to stay
//! outside the pipeline goes in an outer router, in plain sight:
//!
//! ```
//! use axum::{Router, routing::get};
//! use memorysync_pipeline::pipeline::PipelineBuilder;
//! use memorysync_pipeline::{Environment, auth::ApiKeyAuthLayer, health::HealthRouteLayer};
//! use memorysync_pipeline::key::MemoryKeyStore;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let pipeline = PipelineBuilder::new()
//!     .stage(HealthRouteLayer::new())
//!     .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Production))
//!     .into_layer();
//! let api = Router::new().route("/v1/memories", get(|| async { "[]" }));
//! // `/metrics` is for a scraper without a key: outside the pipeline on purpose.
//! let app = Router::new()
//!     .route("/metrics", get(|| async { "# metrics" }))
//!     .fallback_service(pipeline.around(api));
//! // Serve with `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())`.
//!
//! let get = |path: &str| http::Request::get(path).body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(get("/health")).await.unwrap().status(), 200);
//! assert_eq!(app.clone().oneshot(get("/admin")).await.unwrap().status(), 401);
//! assert_eq!(app.oneshot(get("/metrics")).await.unwrap().status(), 200);
//! # });
//! ```
//!
//! A hyper service or a tower `ServiceBuilder` is wrapped the same way, with `around`. tonic's
//! `Server::builder().layer(pipeline)` wraps the whole server, unknown methods included.

mod builder;
mod order;

pub use builder::{PipelineBuilder, PipelineLayer};
pub use order::{Follows, Stage, position};
