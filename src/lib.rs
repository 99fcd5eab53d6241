//! # memorysync-pipeline
//!
//! The request pipeline of the MemorySync memory API as composable tower layers: API-key
//! authentication, project and environment scoping, per-key rate limits, monthly quotas that
//! degrade silently, an audit log, a public health route and signed webhooks. Put one
//! [`PipelineLayer`](pipeline::PipelineLayer) in front of an axum, hyper or tonic service; the
//! stage order is checked at compile time.
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::{Router, routing::get, Extension};
//! use memorysync_pipeline::pipeline::PipelineBuilder;
//! use memorysync_pipeline::{Environment, ClientAddr};
//! use memorysync_pipeline::auth::ApiKeyAuthLayer;
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::health::HealthRouteLayer;
//! use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
//! use memorysync_pipeline::scope::{ProjectScopeLayer, Scope};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! // One key for project `proj_demo`, development environment. The store keeps its hash only.
//! let key = ApiKey::generate(Environment::Development).unwrap();
//! let keys = MemoryKeyStore::new();
//! keys.insert(
//!     KeyRecord::new("key_demo", key.hash(), "proj_demo", Environment::Development),
//!     Timestamp::EPOCH,
//! ).await.unwrap();
//!
//! let pipeline = PipelineBuilder::new()
//!     .stage(HealthRouteLayer::new())
//!     .stage(ApiKeyAuthLayer::new(keys))
//!     .stage(ProjectScopeLayer::new())
//!     .into_layer();
//!
//! async fn list(Extension(scope): Extension<Scope>) -> String {
//!     format!("memories of {} ({})", scope.project(), scope.environment())
//! }
//! let app = Router::new().route("/v1/memories", get(list)).layer(pipeline);
//!
//! let request = http::Request::get("/v1/memories")
//!     .header("authorization", format!("Bearer {}", key.expose_secret()))
//!     .header("x-project-id", "proj_demo")
//!     .extension(ClientAddr(SocketAddr::from(([127, 0, 0, 1], 50_000))))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//!
//! let without_key = http::Request::get("/v1/memories").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(without_key).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! # });
//! ```
//!
//! ## Stages, outermost first
//! | stage | module | answers by itself |
//! |---|---|---|
//! | `HealthRoute` | [`health`] | `GET /health`, rate-limited per client IP |
//! | `AuditRecord` | [`audit`] | nothing; records every call, hash-chained, off the request path |
//! | `ApiKeyAuth` | [`auth`] | 401 for a missing, malformed, unknown, revoked or expired key |
//! | `ProjectScope` | [`scope`] | 400 without `X-Project-ID`, 403 for another project |
//! | `SlidingWindowRateLimit` | [`limit`] | 429 past the key's per-second or per-minute limit |
//! | `QuotaDegrade` | [`quota`] | 200 with an empty result past the project's monthly quota |
//!
//! Rejections are RFC 9457 problem details, or trailers-only gRPC statuses for gRPC requests:
//! see [`rejection`]. Time comes from an injectable [`clock`]. A whole pipeline can be described
//! by a TOML file: see [`config`].
//!
//! ## Features
//! - `axum`: read the client address from axum's `ConnectInfo<SocketAddr>` as well as from
//!   [`ClientAddr`].

#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod body;
pub mod client_ip;
pub mod clock;
pub mod config;
mod environment;
pub mod future;
pub mod health;
pub mod key;
pub mod limit;
pub mod pipeline;
pub mod quota;
#[cfg(feature = "redis")]
pub mod redis_store;
pub mod rejection;
pub mod scope;

pub mod store;
pub mod tombstone;
pub mod webhook;

pub use client_ip::{ClientAddr, TrustedProxies};
pub use environment::{Environment, UnknownEnvironment};
