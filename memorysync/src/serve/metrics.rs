//! `GET /metrics` for Prometheus (feature `metrics`): the pipeline's counters and gauges, listed
//! in `memorysync_pipeline::telemetry`, rendered by `metrics-exporter-prometheus`.
//!
//! The route sits outside the pipeline, like `/health`: a scraper has no API key. It names
//! projects and key outcomes, so in production serve it where only the scraper reaches (a
//! private listener, or a firewall rule), not on the public address.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The text format's content type, version 0.0.4 (what Prometheus asks for first).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the Prometheus recorder for the whole process and returns the router of
/// `GET /metrics`. Call it once, in `main`: a process has one global recorder, and a second
/// install fails.
pub(crate) fn router() -> Result<Router, String> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    memorysync_pipeline::telemetry::describe_metrics();
    Ok(routes(handle))
}

/// `GET /metrics` rendering `handle`. The pipeline reports only counters and gauges, so the
/// handle needs no periodic upkeep (that is for histograms).
pub(crate) fn routes(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = handle.render();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response() }
        }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::OnceLock;

    use memorysync_pipeline::Environment;
    use memorysync_pipeline::audit::JsonLinesSink;
    use memorysync_pipeline::clock::{ManualClock, Timestamp};
    use memorysync_pipeline::config::Config;
    use memorysync_pipeline::key::ApiKey;
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

    /// The process's one recorder, shared by the tests of this binary.
    fn handle() -> PrometheusHandle {
        static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
        HANDLE
            .get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
            .clone()
    }

    /// The value of the series `name{labels}` in the exposition `text`, 0 when absent.
    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[tokio::test]
    async fn metrics_shows_the_counters_moving_after_requests() {
        let handle = handle();
        let key = ApiKey::generate(Environment::Development).unwrap();
        let text = format!(
            "environment = \"development\"\n\
             [[projects]]\nid = \"proj_metrics\"\nadds_per_month = 1\nqueries_per_month = 100\n\
             [[keys]]\nid = \"key_metrics\"\nsha256 = \"{}\"\nproject = \"proj_metrics\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n",
            key.hash().to_hex()
        );
        let config = Config::from_toml(&text).unwrap();
        let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
        let app = crate::app::build(&config, false, "metrics", clock, |_| {})
            .await
            .unwrap();
        let server = crate::tests::serve_router(app.router.merge(super::routes(handle))).await;
        let admitted = r#"memorysync_requests_total{stage="auth",outcome="admitted"}"#;
        let missing = r#"memorysync_requests_total{stage="auth",outcome="missing_api_key"}"#;
        let degraded = r#"memorysync_quota_degraded_total{project="proj_metrics",operation="add"}"#;
        let before = server.send_text("GET", "/metrics").await;

        let auth = format!("Bearer {}", key.expose_secret());
        let headers = [
            ("authorization", auth.as_str()),
            ("x-project-id", "proj_metrics"),
        ];
        for n in 0..3 {
            let body = format!(r#"{{"text":"m{n}"}}"#);
            assert_eq!(
                server.send("POST", "/v1/memories", &headers, &body).await.0,
                200
            );
        }
        assert_eq!(server.send("GET", "/v1/memories", &[], "").await.0, 401);

        let after = server.send_text("GET", "/metrics").await;
        // Other tests of this binary count too: the series only ever go up by at least ours.
        assert!(
            value(&after, admitted) - value(&before, admitted) >= 3.0,
            "{after}"
        );
        assert!(
            value(&after, missing) - value(&before, missing) >= 1.0,
            "{after}"
        );
        assert_eq!(
            value(&after, degraded) - value(&before, degraded),
            2.0,
            "{after}"
        );
        assert!(!after.contains("msk_"), "no key in the metrics");
    }

    #[tokio::test]
    async fn merging_metrics_after_the_pipeline_let_unrouted_paths_skip_auth_and_health_404() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "environment = \"development\"\n[audit]\ndir = \"{}\"\n",
            dir.path().display()
        );
        let config = Config::from_toml(&text).unwrap();
        let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
        let app = crate::app::build(&config, false, "merge", clock, |_| {})
            .await
            .unwrap();
        let audit = app.deployment.as_ref().unwrap().audit().clone();
        // As `main` does: `/metrics` merged after the pipeline, outside it on purpose.
        let server = crate::tests::serve_router(app.router.merge(super::routes(handle()))).await;

        let (status, body) = server.send("GET", "/health", &[], "").await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
        let (status, body) = server.send("GET", "/admin", &[], "").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("missing_api_key"))
        );
        let metrics = server.send_text("GET", "/metrics").await;
        assert!(metrics.contains("memorysync_requests_total"), "{metrics}");

        audit.flush().await;
        let lines = JsonLinesSink::reader(dir.path()).read_lines().unwrap();
        let admin: Vec<_> = lines.iter().filter(|l| l.contains(r#""/admin""#)).collect();
        assert_eq!(admin.len(), 1, "{lines:?}");
        assert!(admin[0].contains(r#""status":401"#), "{}", admin[0]);
    }
}
