//! The `metrics` feature: the counters and gauges of `memorysync_pipeline::telemetry` move as the
//! stages decide. Each test installs its recorder for its own thread only
//! (`metrics::with_local_recorder`), since tests run in parallel, and drives the pipeline on a
//! current-thread runtime so that the audit writer reports to the same recorder.

use std::collections::HashMap;

use crate::common::stack::{PROJECT, Stack};
use memorysync_pipeline::telemetry::{
    AUDIT_QUEUE_DEPTH, AUDIT_WRITTEN_TOTAL, QUOTA_DEGRADED_TOTAL, QUOTA_LIMIT, QUOTA_USED,
    RATE_LIMITED_TOTAL, REQUESTS_TOTAL, describe_metrics,
};
use metrics_exporter_prometheus::PrometheusBuilder;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshot};

/// Every `memorysync_requests_total` series the run of `Stack::run_every_decision` makes.
const DECISIONS: [(&str, &str, f64); 20] = [
    ("health", "answered", 5.0),
    ("health", "health_rate_limited", 1.0),
    ("audit", "allowed", 2.0),
    ("audit", "degraded", 1.0),
    ("audit", "rate_limited", 1.0),
    ("audit", "unauthenticated", 5.0),
    ("audit", "forbidden", 2.0),
    ("auth", "admitted", 6.0),
    ("auth", "missing_api_key", 1.0),
    ("auth", "malformed_api_key", 1.0),
    ("auth", "invalid_api_key", 1.0),
    ("auth", "revoked_api_key", 1.0),
    ("auth", "expired_api_key", 1.0),
    ("scope", "admitted", 4.0),
    ("scope", "missing_project_id", 1.0),
    ("scope", "project_mismatch", 1.0),
    ("limit", "admitted", 3.0),
    ("limit", "rate_limited", 1.0),
    ("quota", "admitted", 2.0),
    ("quota", "degraded", 1.0),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn run_every_decision() {
    runtime().block_on(async { Stack::new().await.run_every_decision().await });
}

/// A snapshot as `name{k=v,k=v}` → value.
fn readings(snapshot: Snapshot) -> HashMap<String, f64> {
    snapshot
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let value = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(x) => x.into_inner(),
                DebugValue::Histogram(_) => f64::NAN,
            };
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

#[test]
fn every_stage_counts_each_of_its_decisions_by_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, run_every_decision);
    let seen = readings(snapshotter.snapshot());

    for (stage, outcome, count) in DECISIONS {
        let name = format!("{REQUESTS_TOTAL}{{stage={stage},outcome={outcome}}}");
        assert_eq!(seen.get(&name), Some(&count), "{name} in {seen:#?}");
    }
    let series = seen.keys().filter(|k| k.starts_with(REQUESTS_TOTAL));
    assert_eq!(
        series.count(),
        DECISIONS.len(),
        "an unexpected outcome: {seen:#?}"
    );

    let expected = [
        (format!("{RATE_LIMITED_TOTAL}{{stage=limit}}"), 1.0),
        (format!("{RATE_LIMITED_TOTAL}{{stage=health}}"), 1.0),
        (
            format!("{QUOTA_DEGRADED_TOTAL}{{project={PROJECT},operation=add}}"),
            1.0,
        ),
        (
            format!("{QUOTA_USED}{{project={PROJECT},operation=add}}"),
            1.0,
        ),
        (
            format!("{QUOTA_LIMIT}{{project={PROJECT},operation=add}}"),
            1.0,
        ),
        (
            format!("{QUOTA_USED}{{project={PROJECT},operation=query}}"),
            1.0,
        ),
        (
            format!("{QUOTA_LIMIT}{{project={PROJECT},operation=query}}"),
            100.0,
        ),
        // Every API call is audited (probes are not), and so is the start's reconciliation of
        // the config: 12 events, none left waiting.
        (format!("{AUDIT_WRITTEN_TOTAL}{{}}"), 12.0),
        (format!("{AUDIT_QUEUE_DEPTH}{{}}"), 0.0),
    ];
    for (name, value) in expected {
        assert_eq!(seen.get(&name), Some(&value), "{name} in {seen:#?}");
    }
}

#[test]
fn no_label_of_any_series_is_a_key() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, run_every_decision);
    for name in readings(snapshotter.snapshot()).keys() {
        assert!(!name.contains("msk_"), "{name}");
    }
}

#[test]
fn a_prometheus_recorder_renders_the_counters_with_their_descriptions() {
    // Built, not installed: the server installs it globally, a test may not.
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        describe_metrics();
        run_every_decision();
    });
    let text = handle.render();
    for line in [
        "# TYPE memorysync_requests_total counter",
        "# HELP memorysync_requests_total Decisions of each pipeline stage, by outcome",
        r#"memorysync_requests_total{stage="auth",outcome="admitted"} 6"#,
        r#"memorysync_requests_total{stage="limit",outcome="rate_limited"} 1"#,
        r#"memorysync_requests_total{stage="quota",outcome="degraded"} 1"#,
        r#"memorysync_rate_limited_total{stage="limit"} 1"#,
        r#"memorysync_quota_degraded_total{project="proj_tele",operation="add"} 1"#,
        "# TYPE memorysync_quota_used gauge",
        r#"memorysync_quota_used{project="proj_tele",operation="query"} 1"#,
        r#"memorysync_quota_limit{project="proj_tele",operation="query"} 100"#,
        "memorysync_audit_written_total 12",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(!text.contains("msk_"));
}
