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
//! use memorysync_pipeline::{auth::ApiKeyAuthLayer, health::HealthRouteLayer, key::MemoryKeyStore};
//! use memorysync_pipeline::scope::ProjectScopeLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let pipeline = PipelineBuilder::new()
//!     .stage(HealthRouteLayer::new())
//!     .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(10)))
//!     .stage(ApiKeyAuthLayer::new(MemoryKeyStore::new()))
//!     .stage(ProjectScopeLayer::new())
//!     .into_layer();
//!
//! let service = ServiceBuilder::new()
//!     .layer(pipeline)
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, tower::BoxError>(http::Response::new(String::new()))
//!     }));
//! let health = http::Request::get("/health").body(String::new()).unwrap();
//! assert_eq!(service.clone().oneshot(health).await.unwrap().status(), 200);
//! let anonymous = http::Request::get("/v1/memories").body(String::new()).unwrap();
//! assert_eq!(service.oneshot(anonymous).await.unwrap().status(), 401);
//! # });
//! ```

mod builder;
mod order;

pub use builder::{PipelineBuilder, PipelineLayer};
pub use order::{Follows, Stage, position};
