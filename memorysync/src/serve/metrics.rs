//! `GET /metrics` for Prometheus (feature `metrics`), on the admin listener only: the
//! pipeline's counters and gauges, listed in `memorysync_pipeline::telemetry`, rendered by
//! `metrics-exporter-prometheus`. They name projects and key outcomes, which is why the public
//! listener never serves them.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The text format's content type, version 0.0.4 (what Prometheus asks for first).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the Prometheus recorder for the whole process. Call it once: a process has one
/// global recorder, and a second install fails.
pub(crate) fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    memorysync_pipeline::telemetry::describe_metrics();
    Ok(handle)
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

    /// The binary's server for `config` with `/metrics` on its admin listener; the test's
    /// clients of both.
    async fn serve(
        config: Config,
        instance: &str,
    ) -> (
        crate::serve::testing::Served,
        crate::serve::client::Running,
        crate::serve::client::Running,
    ) {
        let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
        let app = crate::serve::app::build_demo(&config, instance, clock, |_| {})
            .await
            .unwrap();
        let admin = crate::serve::admin::answering_the_rest(super::routes(handle()));
        let served = crate::serve::testing::serve(app, config, Some(admin)).await;
        let (public, admin) = (served.client(), Running::at(served.admin.unwrap()));
        (served, public, admin)
    }

    use crate::serve::client::Running;

    #[tokio::test]
    async fn metrics_shows_the_counters_moving_after_requests() {
        let key = ApiKey::generate(Environment::Development).unwrap();
        let text = format!(
            "environment = \"development\"\n\
             [[projects]]\nid = \"proj_metrics\"\nadds_per_month = 1\nqueries_per_month = 100\n\
             [[keys]]\nid = \"key_metrics\"\nsha256 = \"{}\"\nproject = \"proj_metrics\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n",
            key.hash().to_hex()
        );
        let config = Config::from_toml(&text).unwrap();
        let (_served, server, admin) = serve(config, "metrics").await;
        let admitted = r#"memorysync_requests_total{stage="auth",outcome="admitted"}"#;
        let missing = r#"memorysync_requests_total{stage="auth",outcome="missing_api_key"}"#;
        let degraded = r#"memorysync_quota_degraded_total{project="proj_metrics",operation="add"}"#;
        let (_, before) = admin.send_text("GET", "/metrics").await;

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

        let (status, after) = admin.send_text("GET", "/metrics").await;
        assert_eq!(status, 200);
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
    async fn metrics_is_on_the_admin_listener_only_and_the_public_one_meets_it_with_the_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "environment = \"development\"\n[audit]\ndir = \"{}\"\n",
            dir.path().display()
        );
        let config = Config::from_toml(&text).unwrap();
        let (served, server, admin) = serve(config, "merge").await;

        let (status, body) = server.send("GET", "/health", &[], "").await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
        // On the public listener `/metrics` is a path like any other: the pipeline's.
        for path in ["/admin", "/metrics"] {
            let (status, body) = server.send("GET", path, &[], "").await;
            assert_eq!(
                (status, body["code"].as_str()),
                (401, Some("missing_api_key")),
                "{path}"
            );
        }
        let (status, metrics) = admin.send_text("GET", "/metrics").await;
        assert_eq!(status, 200, "{metrics}");
        assert!(
            metrics
                .contains(r#"memorysync_requests_total{stage="auth",outcome="missing_api_key"}"#),
            "{metrics}"
        );
        // And the admin listener serves nothing else.
        let (status, body) = admin.send("GET", "/health", &[], "").await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
        let (status, fields, body) = admin.send_full("POST", "/metrics", &[], "").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (405, Some("method_not_allowed"))
        );
        assert_eq!(fields["allow"], "GET,HEAD");

        served.stop.send(()).unwrap();
        served.done.await.unwrap().unwrap();
        let lines = JsonLinesSink::reader(dir.path()).read_lines().unwrap();
        for path in ["/admin", "/metrics"] {
            let quoted = format!(r#""{path}""#);
            let events: Vec<_> = lines.iter().filter(|l| l.contains(&quoted)).collect();
            assert_eq!(events.len(), 1, "{path}: {lines:?}");
            assert!(events[0].contains(r#""status":401"#), "{}", events[0]);
        }
    }
}
