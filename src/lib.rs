//! # memorysync-pipeline
//!
//! The request pipeline of the MemorySync memory API as composable tower layers: API-key
//! authentication, project and environment scoping, per-key rate limits, monthly quotas that
//! degrade silently, an audit log, a public health route and signed webhooks. Put one
//! [`PipelineLayer`](pipeline::PipelineLayer) in front of an axum, hyper or tonic service; the
//! stage order is checked at compile time.
//!
//! The six stages in front of an axum router, on the in-memory stores:
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::{Router, routing::{get, post}, Extension};
//! use memorysync_pipeline::pipeline::PipelineBuilder;
//! use memorysync_pipeline::{Environment, ClientAddr};
//! use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
//! use memorysync_pipeline::auth::ApiKeyAuthLayer;
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::health::HealthRouteLayer;
//! use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
//! use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
//! use memorysync_pipeline::quota::{Plan, QuotaDegradeLayer, QuotaPlans};
//! use memorysync_pipeline::scope::{ProjectScopeLayer, Scope};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! // One key for project `proj_demo`, development environment, 10 requests a second and 300 a
//! // minute. The store keeps its hash only; the key itself is shown once, to its owner.
//! let key = ApiKey::generate(Environment::Development).unwrap();
//! let keys = MemoryKeyStore::new();
//! let record = KeyRecord::new("key_demo", key.hash(), "proj_demo", Environment::Development)
//!     .with_limits(Some(10), Some(300));
//! keys.insert(record, Timestamp::EPOCH).await.unwrap();
//! // 1,000 adds and 10,000 queries a month; past them, 200 with an empty result.
//! let plans = QuotaPlans::new().with_plan("proj_demo", Plan::new(1_000, 10_000));
//! // The audit log writes off the request path; here into memory.
//! let sink = MemoryAuditSink::new();
//! let audit = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
//!
//! let pipeline = PipelineBuilder::new()
//!     .stage(HealthRouteLayer::new())
//!     .stage(AuditRecordLayer::new(audit.clone()))
//!     .stage(ApiKeyAuthLayer::new(keys, Environment::Development))
//!     .stage(ProjectScopeLayer::new())
//!     .stage(SlidingWindowRateLimitLayer::new())
//!     .stage(QuotaDegradeLayer::new(plans))
//!     .into_layer();
//!
//! async fn list(Extension(scope): Extension<Scope>) -> String {
//!     format!(r#"{{"results":[],"project":"{}"}}"#, scope.project())
//! }
//! // `around`, not `Router::layer`: every request reaches the stages, whatever is merged into
//! // the router (see the `pipeline` module).
//! let app = pipeline.around(Router::new().route("/v1/memories", get(list)));
//!
//! let request = http::Request::get("/v1/memories")
//!     .header("authorization", format!("Bearer {}", key.expose_secret()))
//!     .header("x-project-id", "proj_demo")
//!     .extension(ClientAddr(SocketAddr::from(([127, 0, 0, 1], 50_000))))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["ratelimit-policy"], r#""rps";q=10;w=1, "rpm";q=300;w=60"#);
//!
//! let without_key = http::Request::get("/v1/memories").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(without_key).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//!
//! // Both calls are in the audit log, the refused one with its outcome.
//! audit.flush().await;
//! assert_eq!(sink.len(), 2);
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
//! None is on by default.
//! - `axum`: read the client address from axum's `ConnectInfo<SocketAddr>` as well as from
//!   [`ClientAddr`].
//! - `embedded`: the durable store of [`embedded_store`] (redb) under `store.path`: keys,
//!   tombstones, usage, quota counters and alert marks, the webhook queue, for one production
//!   instance.
//! - `redis`: the shared stores of `redis_store`: keys, tombstones, rate-limit windows,
//!   quotas, the audit stream and the webhook queue, for several instances behind one load
//!   balancer.
//! - `webhook-client`: [`webhook::HttpsTransport`], the HTTPS client (hyper-util with rustls)
//!   that delivers webhooks; without it, bring a tower `Service` of your own.
//! - `metrics`: counters and gauges through the `metrics` facade crate (requests by stage and
//!   outcome, quota use, webhooks, audit queue, store outages); see [`telemetry`] for the
//!   names. Every stage also opens a `DEBUG` tracing span, with or without the feature.

#![forbid(unsafe_code)]
// docs.rs builds with `--cfg docsrs` on nightly: every item gated by a feature says which.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
mod admission;
mod assembly;
pub mod audit;
pub mod auth;
pub mod body;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod deployment;
#[cfg(feature = "embedded")]
#[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
pub mod embedded_store;
mod environment;
pub mod future;
pub mod health;
pub mod key;
pub mod limit;
mod macros;
pub mod pipeline;
pub mod quota;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis_store;
pub mod rejection;
pub mod scope;

pub mod store;
pub mod telemetry;
pub mod tombstone;
pub mod webhook;

pub use client_ip::{ClientAddr, TrustedProxies};
pub use environment::{Environment, UnknownEnvironment};
