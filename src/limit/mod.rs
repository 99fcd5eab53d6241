//! `SlidingWindowRateLimit`: stage 5, per-key sliding-window rate limits (section 5).
//!
//! **Slot only, not enforcing yet.** The layer holds the stage's place in the pipeline order and
//! passes every request through; the limiter itself (two strict sliding windows per key,
//! `429 rate_limited` with `Retry-After` and `RateLimit` headers) lands with its own issue.
//!
//! # Example
//! ```
//! use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let service = ServiceBuilder::new()
//!     .layer(SlidingWindowRateLimitLayer::new())
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! let response = service.oneshot(http::Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```

crate::slot::slot_stage!(
    /// Applies [`SlidingWindowRateLimit`]. A slot for now: see the module docs.
    SlidingWindowRateLimitLayer,
    /// Per-key rate limits. A slot for now: passes every request through.
    SlidingWindowRateLimit
);
