//! `HealthRoute`: stage 1, the public health route.
//!
//! `GET /health` (and `HEAD`) is answered by the stage itself: no key, no audit event, at most
//! 5 requests per second per client address (the 6th within a second is 429
//! `health_rate_limited` with `Retry-After`). The report is `{"status":"ok"}`, or
//! `{"status":"degraded","checks":{...}}` naming each registered [`HealthCheck`] and its state
//! when any of them fails or misses its deadline. Every other request passes inward.
//!
//! # Example
//! ```
//! use memorysync_pipeline::health::HealthRouteLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let service = ServiceBuilder::new()
//!     .layer(HealthRouteLayer::new())
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("inner")))
//!     }));
//!
//! let probe = || http::Request::get("/health").body(String::new()).unwrap();
//! for _ in 0..5 {
//!     assert_eq!(service.clone().oneshot(probe()).await.unwrap().status(), 200);
//! }
//! assert_eq!(service.oneshot(probe()).await.unwrap().status(), 429);
//! # });
//! ```
//!
//! # Decisions
//!
//! Where the design is silent:
//! - Both reports answer 200: `degraded` still serves. A probe that wants to fail on degraded
//!   reads the body.
//! - The client address is the socket peer ([`ClientAddr`](crate::ClientAddr), or axum's
//!   `ConnectInfo` with the `axum` feature); `X-Forwarded-For` counts only from
//!   [trusted proxies](HealthRouteLayer::with_trusted_proxies). Requests whose address is unknown
//!   share one window.
//! - The window is the rate-limit stage's strict sliding window
//!   ([`SlidingWindowLimiter`](crate::limit::SlidingWindowLimiter)), keyed by IPv4 address or
//!   IPv6 /64. At most 65,536 clients have a window of their own; a client keeps it while it
//!   probes at least every 10 minutes, whatever other clients do. While all are taken, new
//!   clients share one overflow window (limited together, not refused outright), so a flood of
//!   addresses slows only newcomers, never a steady prober.
//!   [`with_exempt`](HealthRouteLayer::with_exempt) (`[health] exempt` in the config) lets the
//!   operator's probers bypass the limit.

mod check;
mod future;
mod layer;
mod limiter;
mod report;
mod service;

pub use check::{CheckStatus, HealthCheck, check_fn};
pub use future::ResponseFuture;
pub use layer::HealthRouteLayer;
pub use service::HealthRoute;
