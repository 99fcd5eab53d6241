//! The pipeline's contract on in-memory stores, one module per part of the design: the stages in
//! their order (health, audit, auth, scope, rate limit, quota), the rejections, webhooks, the
//! configuration file and telemetry. One test binary, so that the crate and the fixtures in
//! `tests/common` are linked once. The Redis stores have their own binary (`tests/redis_store`),
//! and so does the tracing test (`tests/tracing_secrets.rs`), for the reasons given there.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

// 2. The stages, outermost first.
mod audit;
mod audit_instance;
mod auth;
#[cfg(feature = "axum")]
mod axum_connect_info;
mod health;
mod health_flood;
mod limit_properties;
mod limit_stage;
mod quota;
mod scope;

// The pipeline built as documented: the deployment it serves, the router it wraps.
mod api_plans;
mod composition;
mod deployment;
mod one_call;
mod reconcile;

// 3. Rejections.
mod grpc_rejections;

// 4. API keys, and what fuzzing found in their parser and the other parsers.
mod fuzz_corpus;

// 8. Webhooks.
mod ssrf_registry;
#[cfg(feature = "webhook-client")]
mod webhook_delivery;
#[cfg(feature = "webhook-client")]
mod webhook_endpoints;
mod webhook_interop;
mod webhook_routing;
mod webhook_verify;

// 10. Configuration.
mod config;

// Telemetry: each test installs its metrics recorder for its own thread only.
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "metrics")]
mod metrics_background;
