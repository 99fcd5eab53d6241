//! `QuotaDegrade`: stage 6, monthly plan quotas that degrade silently (section 6).
//!
//! **Slot only, not enforcing yet.** The layer holds the stage's place in the pipeline order and
//! passes every request through; the quotas themselves (200 with an empty result once a
//! project's monthly quota is used up, usage alerts) land with their own issue.
//!
//! # Example
//! ```
//! use memorysync_pipeline::quota::QuotaDegradeLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let service = ServiceBuilder::new()
//!     .layer(QuotaDegradeLayer::new())
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! let response = service.oneshot(http::Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```

crate::slot::slot_stage!(
    /// Applies [`QuotaDegrade`]. A slot for now: see the module docs.
    QuotaDegradeLayer,
    /// Monthly quotas. A slot for now: passes every request through.
    QuotaDegrade
);
