//! Metrics and tracing spans: what the pipeline tells an operator while it runs.
//!
//! # Example
//! ```
//! # #[cfg(feature = "metrics")] {
//! use memorysync_pipeline::Environment;
//! use memorysync_pipeline::auth::ApiKeyAuthLayer;
//! use memorysync_pipeline::key::MemoryKeyStore;
//! use metrics_util::debugging::{DebugValue, DebuggingRecorder};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! // An application installs one recorder for the process (Prometheus, say); this one is
//! // local to the thread, for the example.
//! let recorder = DebuggingRecorder::new();
//! let snapshotter = recorder.snapshotter();
//! let service = ServiceBuilder::new()
//!     .layer(ApiKeyAuthLayer::new(MemoryKeyStore::new(), Environment::Development))
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! let anonymous = http::Request::new(String::new());
//! let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let response = metrics::with_local_recorder(&recorder, || {
//!     runtime.block_on(service.oneshot(anonymous)).unwrap()
//! });
//! assert_eq!(response.status(), 401);
//!
//! let (key, _, _, value) = snapshotter.snapshot().into_vec().remove(0);
//! assert_eq!(key.key().name(), "memorysync_requests_total");
//! let labels: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
//! assert_eq!(labels, [("stage", "auth"), ("outcome", "missing_api_key")]);
//! assert_eq!(value, DebugValue::Counter(1));
//! # }
//! ```
//!
//! # Metrics
//!
//! With the feature `metrics`, the pipeline reports through the
//! [`metrics`](https://docs.rs/metrics/0.24) facade crate to whatever recorder the application
//! installs (for Prometheus, `metrics-exporter-prometheus`; `memorysync serve` serves it on
//! `GET /metrics` of its admin listener); `describe_metrics()` then gives the recorder a help text for each. Without
//! the feature nothing is compiled in: the calls the stages make are empty inline functions.
//! With it and no recorder installed, each event costs a look-up of the (absent) recorder.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `memorysync_requests_total` | counter | `stage`, `outcome` | decisions of each stage (below) |
//! | `memorysync_rate_limited_total` | counter | `stage` (`limit`, `health`) | 429s: a key's limit, or too many probes |
//! | `memorysync_quota_degraded_total` | counter | `project`, `operation` | degraded answers (quota used up) |
//! | `memorysync_quota_used` | gauge | `project`, `operation` | units used this month, set by each reservation |
//! | `memorysync_quota_limit` | gauge | `project`, `operation` | the plan's monthly limit, set with it |
//! | `memorysync_webhook_attempts_total` | counter | `outcome` (`delivered`, `failed`, `gone`) | delivery attempts that came to an end |
//! | `memorysync_webhook_retries_total` | counter | | retries scheduled |
//! | `memorysync_webhook_dead_letters_total` | counter | | deliveries moved to the dead letters |
//! | `memorysync_webhook_backlog` | gauge | | webhook deliveries published and not yet taken by the queue |
//! | `memorysync_webhook_refused_total` | counter | | offers of a delivery the queue refused (each offered again) |
//! | `memorysync_audit_queue_depth` | gauge | | events waiting for the audit writer |
//! | `memorysync_audit_written_total` | counter | | events the audit sink has written |
//! | `memorysync_audit_dropped_total` | counter | | events lost (any is a fault; `/health` says so) |
//! | `memorysync_audit_waited_total` | counter | | events that found the queue full and waited for room |
//! | `memorysync_store_unavailable` | gauge | `store` | 1 while a shared store fails and its policy applies, 0 once it answers |
//! | `memorysync_quota_unplanned_total` | counter | | metered requests of a project without a plan (served unmetered; logged once per project) |
//!
//! The `outcome` of `memorysync_requests_total`, per `stage`:
//!
//! | `stage` | `outcome` |
//! |---|---|
//! | `health` | `answered`, `health_rate_limited` (probes only; other requests pass uncounted) |
//! | `audit` | the audit event's outcome: `allowed`, `unauthenticated`, `forbidden`, `rate_limited`, `degraded`, `error` |
//! | `auth` | `admitted`, `missing_api_key`, `malformed_api_key`, `invalid_api_key`, `revoked_api_key`, `expired_api_key`, `store_unavailable` |
//! | `scope` | `admitted`, `missing_api_key`, `missing_project_id`, `project_mismatch` |
//! | `limit` | `admitted`, `rate_limited`, `missing_api_key`, `store_unavailable` |
//! | `quota` | `admitted` (a unit reserved), `degraded`, `unmetered`, `missing_api_key`, `store_unavailable` |
//!
//! Rejections carry their [`RejectionCode`](crate::rejection::RejectionCode) name. Label values
//! are never secrets: `project` is the project of the key's record, `store` names a store,
//! everything else is a fixed word. The per-request labels are `&'static str`, their keys built
//! once; only the two quota gauges (labelled by project) allocate their label list, once per
//! metered request.
//!
//! # Spans
//!
//! Every stage opens one span per request, at `DEBUG` level, and keeps it entered while it
//! decides and while the inner service's future is polled, so the spans of the stages nest
//! inside one another (and inside the application's own request span, tower-http's `TraceLayer`
//! say). `DEBUG` because they are detail below a request span: under the usual `info` filter
//! they are disabled at their call site, and a stage pays a few relaxed loads and the span's
//! 40 bytes in its future (about 2% of the instructions of a request admitted through auth and
//! scope). Before any subscriber is set they are not made at all: tracing would hand them to
//! `log` instead when its `log` feature is on. Nothing is boxed for them.
//!
//! | span | fields |
//! |---|---|
//! | `memorysync.health` | |
//! | `memorysync.audit` | `request_id`; `key_id`, `project` once the call is answered |
//! | `memorysync.auth` | `key_id`, `project`, recorded once the key is found |
//! | `memorysync.scope` | `key_id`, `project` |
//! | `memorysync.limit` | `key_id`, `project` |
//! | `memorysync.quota` | `key_id`, `project`, `operation` (metered requests) |
//!
//! A span never holds the key, its hash, a header value or a webhook secret.

#[cfg(feature = "metrics")]
#[path = "emit.rs"]
mod emit;
#[cfg(not(feature = "metrics"))]
#[path = "noop.rs"]
mod emit;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use emit::describe_metrics;
pub(crate) use emit::*;

use tracing::Span;

/// Counter: decisions of each stage, by `stage` and `outcome`.
pub const REQUESTS_TOTAL: &str = "memorysync_requests_total";
/// Counter: 429s, by `stage`.
pub const RATE_LIMITED_TOTAL: &str = "memorysync_rate_limited_total";
/// Counter: degraded answers, by `project` and `operation`.
pub const QUOTA_DEGRADED_TOTAL: &str = "memorysync_quota_degraded_total";
/// Gauge: units used this month, by `project` and `operation`.
pub const QUOTA_USED: &str = "memorysync_quota_used";
/// Gauge: the monthly limit, by `project` and `operation`.
pub const QUOTA_LIMIT: &str = "memorysync_quota_limit";
/// Counter: webhook attempts, by `outcome`.
pub const WEBHOOK_ATTEMPTS_TOTAL: &str = "memorysync_webhook_attempts_total";
/// Counter: webhook retries scheduled.
pub const WEBHOOK_RETRIES_TOTAL: &str = "memorysync_webhook_retries_total";
/// Counter: webhook deliveries dead-lettered.
pub const WEBHOOK_DEAD_LETTERS_TOTAL: &str = "memorysync_webhook_dead_letters_total";
/// Gauge: webhook deliveries published and not yet taken by the queue.
pub const WEBHOOK_BACKLOG: &str = "memorysync_webhook_backlog";
/// Counter: offers of a webhook delivery the queue refused.
pub const WEBHOOK_REFUSED_TOTAL: &str = "memorysync_webhook_refused_total";
/// Gauge: audit events waiting for the writer.
pub const AUDIT_QUEUE_DEPTH: &str = "memorysync_audit_queue_depth";
/// Counter: audit events written.
pub const AUDIT_WRITTEN_TOTAL: &str = "memorysync_audit_written_total";
/// Counter: audit events lost.
pub const AUDIT_DROPPED_TOTAL: &str = "memorysync_audit_dropped_total";
/// Counter: audit events that waited for room in the queue.
pub const AUDIT_WAITED_TOTAL: &str = "memorysync_audit_waited_total";
/// Gauge: 1 while a shared store is unavailable, by `store`.
pub const STORE_UNAVAILABLE: &str = "memorysync_store_unavailable";
/// Counter: metered requests of a project without a quota plan.
pub const QUOTA_UNPLANNED_TOTAL: &str = "memorysync_quota_unplanned_total";

/// The stage a decision was made in: the `stage` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Health,
    Audit,
    Auth,
    Scope,
    Limit,
    Quota,
}

// Without the feature nothing reads the labels.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
impl Stage {
    pub(crate) const ALL: [Stage; 6] = [
        Stage::Health,
        Stage::Audit,
        Stage::Auth,
        Stage::Scope,
        Stage::Limit,
        Stage::Quota,
    ];

    pub(crate) const fn label(self) -> &'static str {
        match self {
            Stage::Health => "health",
            Stage::Audit => "audit",
            Stage::Auth => "auth",
            Stage::Scope => "scope",
            Stage::Limit => "limit",
            Stage::Quota => "quota",
        }
    }
}

/// A stage's span, made by `make` once a tracing subscriber exists (global or scoped), else
/// none. Before any is set, tracing with its `log` feature (which axum's default features turn
/// on) hands every span to `log` instead, some 40 ns per stage even with no logger installed;
/// the spans are meant for subscribers.
#[inline]
pub(crate) fn stage_span(make: impl FnOnce() -> Span) -> Span {
    if tracing::dispatcher::has_been_set() {
        make()
    } else {
        Span::none()
    }
}

/// The `outcome` labels of the audit stage, in the order of `audit::Outcome`'s variants.
#[cfg_attr(not(any(feature = "metrics", test)), allow(dead_code))]
pub(crate) const AUDIT_OUTCOMES: [&str; 6] = [
    "allowed",
    "unauthenticated",
    "forbidden",
    "rate_limited",
    "degraded",
    "error",
];
