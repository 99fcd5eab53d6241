//! The admin API (section 12 of the design) end to end: a deployment from a config, the admin
//! router in front of it, and the pipeline serving the keys the API made. Memory and embedded
//! backends always; Redis with two instances on a `redis-server` of the test's own (skipped
//! without `MEMORYSYNC_TEST_REDIS_URL`).
#![cfg(feature = "admin")]
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod audit;
#[cfg(feature = "webhook-client")]
mod checklist;
mod console;
mod console_audit;
mod console_client;
mod console_pages;
#[cfg(feature = "webhook-client")]
mod console_webhooks;
mod harness;
mod keys;
mod projects;
mod schemathesis;
mod tokens;
#[cfg(feature = "webhook-client")]
mod webhooks;
