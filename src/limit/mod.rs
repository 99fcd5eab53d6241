//! `SlidingWindowRateLimit`: stage 5, per-key sliding-window rate limits (section 5).
//!
//! Each key gets two sliding windows at once, requests per second and per minute, with the
//! limits of its key record (`rps`, `rpm`; an absent limit is no limit). The windows are 1 s and
//! 60 s long unless the record sets its own (`rps_window`, `rpm_window`) or the layer has other
//! defaults ([`SlidingWindowRateLimitLayer::with_windows`]); a rate `r` over a window `w` admits
//! `r × w` requests per window, which is how a longer window tolerates bursts at the same
//! average rate. The windows are **strict**: in no interval of a window's length does a key get
//! more admitted requests than its window's quota, under any arrival pattern and any number of
//! threads. A refused request is a 429
//! `rate_limited` with `Retry-After` (whole seconds, at least 1) and gRPC `RESOURCE_EXHAUSTED`;
//! admitted and refused responses carry `RateLimit-Policy` and `RateLimit`
//! (draft-ietf-httpapi-ratelimit-headers).
//!
//! # Example
//! ```
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::auth::ApiKeyAuthLayer;
//! use memorysync_pipeline::clock::{ManualClock, Timestamp};
//! use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
//! use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let key = ApiKey::generate(Environment::Development).unwrap();
//! let keys = MemoryKeyStore::new();
//! let record = KeyRecord::new("key_demo", key.hash(), "proj_demo", Environment::Development)
//!     .with_limits(Some(2), Some(100));
//! keys.insert(record, Timestamp::EPOCH).await.unwrap();
//! let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
//!
//! let service = ServiceBuilder::new()
//!     .layer(ApiKeyAuthLayer::new(keys, Environment::Development).with_clock(clock.clone()))
//!     .layer(SlidingWindowRateLimitLayer::new().with_clock(clock))
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! let request = || {
//!     http::Request::builder()
//!         .header("x-api-key", key.expose_secret())
//!         .body(String::new())
//!         .unwrap()
//! };
//! let first = service.clone().oneshot(request()).await.unwrap();
//! assert_eq!(first.status(), 200);
//! assert_eq!(first.headers()["ratelimit-policy"], r#""rps";q=2;w=1, "rpm";q=100;w=60"#);
//! assert_eq!(service.clone().oneshot(request()).await.unwrap().status(), 200);
//! let third = service.oneshot(request()).await.unwrap();
//! assert_eq!(third.status(), 429);
//! assert_eq!(third.headers()["retry-after"], "1");
//! # });
//! ```
//!
//! ## Limiting a public route by client address
//!
//! The stage needs no `ApiKeyAuth` when it is told how to key requests: here every client
//! address gets 2 requests per second and 60 per minute on a route without keys.
//!
//! ```
//! use std::net::SocketAddr;
//! use memorysync_pipeline::ClientAddr;
//! use memorysync_pipeline::client_ip::peer_ip;
//! use memorysync_pipeline::clock::{ManualClock, Timestamp};
//! use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
//! let service = ServiceBuilder::new()
//!     .layer(
//!         SlidingWindowRateLimitLayer::new()
//!             .with_key(|request: &http::Request<String>| {
//!                 peer_ip(request.extensions()).map(|ip| ip.to_string())
//!             })
//!             .with_limits(2, 60)
//!             .with_clock(clock),
//!     )
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! let from = |ip: [u8; 4]| {
//!     http::Request::builder()
//!         .extension(ClientAddr(SocketAddr::from((ip, 40_000))))
//!         .body(String::new())
//!         .unwrap()
//! };
//! for _ in 0..2 {
//!     assert_eq!(service.clone().oneshot(from([192, 0, 2, 1])).await.unwrap().status(), 200);
//! }
//! assert_eq!(service.clone().oneshot(from([192, 0, 2, 1])).await.unwrap().status(), 429);
//! // Another address has windows of its own.
//! assert_eq!(service.oneshot(from([192, 0, 2, 2])).await.unwrap().status(), 200);
//! # });
//! ```
//!
//! # How
//!
//! The rule is in `window.rs` (one place, mirrored by the Redis script of the shared store): a
//! window keeps at most 20 groups of admissions, each remembered by its latest time, and counts
//! a group whole while any part of it may be inside the window. Limits up to 20 are an exact
//! sliding log; above that the windows admit at least 95% of what an exact log admits (see
//! `BENCHMARKS.md` and `tests/pipeline/limit_properties.rs`). Per key the in-memory limiter holds
//! 120 bytes, keyed by a 64-bit keyed hash of the key's id.
//!
//! # Decisions
//!
//! Where the design is silent:
//! - Idle keys are swept out by the limiter itself, at most once a minute, piggybacked on
//!   requests: no task to run. At most [`SlidingWindowLimiter::DEFAULT_MAX_KEYS`] keys are
//!   tracked (configurable); when all are active, a new key is refused (429, `Retry-After: 1`)
//!   rather than an active key forgotten, because forgetting could admit what its limits refuse.
//! - A limit of 0 refuses everything with `Retry-After` the window's length (the config file
//!   refuses 0 outright). A key with neither limit is not tracked and gets no `RateLimit`
//!   fields.
//! - The `RateLimit` field names the window closest to exhaustion; on a 429, `t` equals
//!   `Retry-After`.
//! - A clock that jumps backwards is taken as standing still for the keys it has seen.
//! - A window whose length changes for a key (its record edited, or instances with other
//!   defaults serving it during a rolling restart) keeps the admissions it holds that are live
//!   under the new length: a change of the window never frees it.
//! - The per-minute window's quota is `rpm × rpm_window / 60 s` rounded down (`rpm = 3` over
//!   90 s admits 4), at least 1 for a positive rate.
//! - Keyed by API key (the default) and used without `ApiKeyAuth` outside it, every request is
//!   refused 401 `missing_api_key`. Keyed by a closure ([`SlidingWindowRateLimitLayer::with_key`]),
//!   a request for which the closure returns `None` is not limited: that is the closure's explicit
//!   answer, for example for an internal caller.
//! - Keys from a closure get the limits of [`SlidingWindowRateLimitLayer::with_limits`]; without
//!   it they are unlimited, like a key record with neither limit.

mod fallback;
mod future;
pub mod headers;
mod key;
mod layer;
mod limiter;
mod limits;
mod service;
mod store;
mod window;
mod windows;

pub use crate::store::WithFallback;
pub use future::ResponseFuture;
pub use key::{ByApiKey, ByFn, KeyExtractor, RateKey};
pub use layer::SlidingWindowRateLimitLayer;
pub use limiter::SlidingWindowLimiter;
pub use limits::{Decision, Limits, WindowKind, WindowStatus};
pub use service::SlidingWindowRateLimit;
pub use store::RateLimitStore;
pub use windows::{WindowError, WindowName, Windows, format_window};

#[cfg(feature = "redis")]
pub(crate) use limiter::{Checked, decision_of, spans};
#[cfg(feature = "redis")]
pub(crate) use window::{GROUPS, WindowCheck};
