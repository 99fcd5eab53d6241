//! The server example end to end: `axum::serve` on loopback and a real HTTP client. These are
//! smoke tests of the example's wiring (the config file, the routes, each stage present once and
//! in its place); what each stage decides is specified by the library's own tests.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::quota::QuotaAlert;

use super::app::Mode;
use super::client::Running;

/// A request to send: method, path, header fields, body.
type Call<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

/// Serves the example's app for `config` on an ephemeral loopback port, on a clock that moves
/// only when the test moves it.
async fn serve(config: &Config, mode: Mode) -> Running {
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    serve_with(config, mode, clock, |_| {}).await
}

async fn serve_with(
    config: &Config,
    mode: Mode,
    clock: ManualClock,
    on_alert: impl Fn(&QuotaAlert) + Send + Sync + 'static,
) -> Running {
    let app = super::app::build(config, mode, "test", clock, on_alert)
        .await
        .unwrap()
        .router;
    serve_router(app).await
}

/// Serves `app` on an ephemeral loopback port.
async fn serve_router(app: axum::Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Running::at(addr)
}

/// A config with one project and a development and a production key for it.
fn config_with_keys() -> (Config, ApiKey, ApiKey) {
    let dev = ApiKey::generate(Environment::Development).unwrap();
    let live = ApiKey::generate(Environment::Production).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_demo\"\nadds_per_month = 100\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"development\"\nrps = 10\nrpm = 300\n\
         [[keys]]\nid = \"key_live\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"production\"\nrps = 10\nrpm = 300\n",
        dev.hash().to_hex(),
        live.hash().to_hex()
    );
    (Config::from_toml(&text).unwrap(), dev, live)
}

#[tokio::test]
async fn the_memory_api_serves_behind_auth_scope_and_health() {
    let (config, dev, _) = config_with_keys();
    let server = serve(&config, Mode::Full).await;
    let auth = format!("Bearer {}", dev.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];

    let (status, body) = server.send("GET", "/health", &[], "").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    let (status, body) = server
        .send("POST", "/v1/memories", &headers, r#"{"text":"Likes Rust"}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["event"], "ADD");
    let id = body["results"][0]["id"].as_str().unwrap().to_owned();

    let (_, body) = server
        .send(
            "POST",
            "/v1/memories/search",
            &headers,
            r#"{"query":"rust"}"#,
        )
        .await;
    assert_eq!(body["results"][0]["id"], id.as_str());
    let (_, body) = server
        .send(
            "POST",
            "/v1/memories/search",
            &headers,
            r#"{"query":"python"}"#,
        )
        .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 0);

    let (status, body) = server
        .send("DELETE", &format!("/v1/memories/{id}"), &headers, "")
        .await;
    assert_eq!(
        (status, body["results"][0]["event"].as_str()),
        (200, Some("DELETE"))
    );
    let (_, body) = server.send("GET", "/v1/memories", &headers, "").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 0);

    let (status, body) = server.send("GET", "/v1/memories", &[], "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("missing_api_key"))
    );
    let (status, body) = server
        .send(
            "GET",
            "/v1/memories",
            &[("authorization", auth.as_str())],
            "",
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("missing_project_id"))
    );
    let wrong_project = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_other"),
    ];
    let (status, body) = server.send("GET", "/v1/memories", &wrong_project, "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("project_mismatch"))
    );
}

#[tokio::test]
async fn a_development_key_never_sees_production_memories() {
    let (config, dev, live) = config_with_keys();
    let server = serve(&config, Mode::Full).await;
    let live_auth = format!("Bearer {}", live.expose_secret());
    let dev_auth = format!("Bearer {}", dev.expose_secret());
    let as_live = [
        ("authorization", live_auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    let as_dev = [
        ("authorization", dev_auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];

    let (status, _) = server
        .send(
            "POST",
            "/v1/memories",
            &as_live,
            r#"{"text":"production secret"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = server.send("GET", "/v1/memories", &as_dev, "").await;
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        0,
        "dev key read production data"
    );
    let (_, body) = server
        .send(
            "POST",
            "/v1/memories/search",
            &as_dev,
            r#"{"query":"secret"}"#,
        )
        .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 0);
    let (_, body) = server.send("GET", "/v1/memories", &as_live, "").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_production_deployment_refuses_development_keys() {
    let (config, dev, live) = config_with_keys();
    let mut config = config;
    config.environment = Environment::Production;
    let server = serve(&config, Mode::Full).await;
    let dev_auth = format!("Bearer {}", dev.expose_secret());
    let as_dev = [
        ("authorization", dev_auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    let (status, body) = server.send("GET", "/v1/memories", &as_dev, "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    let live_auth = format!("Bearer {}", live.expose_secret());
    let as_live = [
        ("authorization", live_auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    assert_eq!(
        server.send("GET", "/v1/memories", &as_live, "").await.0,
        200
    );
}

#[tokio::test]
async fn bad_bodies_are_problems_not_500s() {
    let (config, dev, _) = config_with_keys();
    let server = serve(&config, Mode::Full).await;
    let auth = format!("Bearer {}", dev.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    for body in ["", "{", r#"{"text":5}"#, r#"{"text":"  "}"#, "\u{0}"] {
        let (status, answer) = server.send("POST", "/v1/memories", &headers, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("bad_request")),
            "{body:?}"
        );
    }
    let (status, _) = server
        .send("DELETE", "/v1/memories/mem_unknown", &headers, "")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_keys_limits_from_the_config_reach_the_rate_limit_stage() {
    let (config, dev, _) = config_with_keys();
    let server = serve(&config, Mode::Full).await;
    let auth = format!("Bearer {}", dev.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    // key_dev: rps = 10, rpm = 300 in `config_with_keys`.
    for i in 0..10 {
        let (status, fields, _) = server.send_full("GET", "/v1/memories", &headers, "").await;
        assert_eq!(status, 200, "request {i}");
        assert_eq!(
            fields["ratelimit-policy"],
            r#""rps";q=10;w=1, "rpm";q=300;w=60"#
        );
    }
    let (status, body) = server.send("GET", "/v1/memories", &headers, "").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
}

#[tokio::test]
async fn the_projects_plan_from_the_config_reaches_the_quota_stage_and_its_alerts_the_sink() {
    let dev = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_small\"\nadds_per_month = 3\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_small\"\nsha256 = \"{}\"\nproject = \"proj_small\"\nenvironment = \"development\"\nrps = 10\nrpm = 300\n",
        dev.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let alerts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<QuotaAlert>::new()));
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    let recorder = alerts.clone();
    let server = serve_with(&config, Mode::Full, clock.clone(), move |alert| {
        recorder.lock().unwrap().push(alert.clone())
    })
    .await;
    let auth = format!("Bearer {}", dev.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_small"),
    ];

    for text in ["one", "two", "three"] {
        let body = format!(r#"{{"text":"{text}"}}"#);
        let (status, answer) = server.send("POST", "/v1/memories", &headers, &body).await;
        assert_eq!(
            (status, answer["results"][0]["event"].as_str()),
            (200, Some("ADD"))
        );
    }
    let (status, answer) = server
        .send("POST", "/v1/memories", &headers, r#"{"text":"four"}"#)
        .await;
    assert_eq!(status, 200, "degraded, not refused");
    assert_eq!(answer, serde_json::json!({"results": []}));

    // The plan's alerts reach the server's alert sink: 75, 90 and 100 percent, all crossed by
    // the third add.
    let fired: Vec<(u8, &str)> = alerts
        .lock()
        .unwrap()
        .iter()
        .map(|a| (a.threshold, a.event_type()))
        .collect();
    assert_eq!(
        fired,
        [
            (75, "quota.threshold"),
            (90, "quota.threshold"),
            (100, "quota.exhausted")
        ]
    );
}

#[tokio::test]
async fn the_configured_audit_dir_gets_one_verifiable_segment_a_day_and_no_probes() {
    let dir = std::env::temp_dir().join(format!("server-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dev = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_demo\"\nadds_per_month = 1\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"development\"\nrps = 3\nrpm = 300\n\
         [audit]\ndir = \"{}\"\n",
        dev.hash().to_hex(),
        dir.display()
    );
    let config = Config::from_toml(&text).unwrap();
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-11-26T10:00:00Z").unwrap());
    let app = super::app::build(&config, Mode::Full, "test", clock.clone(), |_| {})
        .await
        .unwrap();
    let audit = app.deployment.as_ref().unwrap().audit().clone();
    let server = serve_router(app.router).await;
    let auth = format!("Bearer {}", dev.expose_secret());
    let ok = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    let calls: [Call<'_>; 2] = [
        ("POST", "/v1/memories", &ok, r#"{"text":"kept"}"#),
        ("GET", "/v1/memories", &[], ""),
    ];
    let mut statuses = Vec::new();
    for (method, path, headers, body) in calls {
        statuses.push(server.send(method, path, headers, body).await.0);
    }
    assert_eq!(statuses, [200, 401]);
    // Health probes are answered outside the audit stage: not logged.
    assert_eq!(server.send("GET", "/health", &[], "").await.0, 200);

    audit.flush().await;
    let sink = memorysync_pipeline::audit::JsonLinesSink::reader(&dir);
    assert_eq!(sink.segments().unwrap().len(), 1, "one segment for the day");
    let lines = sink.read_lines().unwrap();
    let checked =
        memorysync_pipeline::audit::verify(lines.iter().map(String::as_str), Some(audit.head()));
    assert_eq!(
        checked,
        Ok(3),
        "the start's reconciliation of the config, then one event per call, none for the probe"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn bare_mode_serves_the_same_api_without_a_key() {
    let (config, _, _) = config_with_keys();
    let server = serve(&config, Mode::Bare).await;
    let (status, _) = server
        .send("POST", "/v1/memories", &[], r#"{"text":"hello"}"#)
        .await;
    assert_eq!(status, 200);
    let (_, body) = server.send("GET", "/v1/memories", &[], "").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
}

/// `--stages auth,scope,limit`: the three stages in front, and nothing else (no `/health`).
#[tokio::test]
async fn the_auth_scope_limit_mode_serves_behind_those_three_stages_only() {
    let (config, dev, _) = config_with_keys();
    let server = serve(&config, Mode::AuthScopeLimit).await;
    let auth = format!("Bearer {}", dev.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    let (status, body) = server
        .send("POST", "/v1/memories", &headers, r#"{"text":"kept"}"#)
        .await;
    assert_eq!(
        (status, body["results"][0]["event"].as_str()),
        (200, Some("ADD"))
    );
    // The tombstones reach the handler without the audit stage.
    let id = body["results"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/memories/{id}");
    assert_eq!(server.send("DELETE", &path, &headers, "").await.0, 200);

    assert_eq!(server.send("GET", "/health", &[], "").await.0, 401);
    let wrong_project = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_other"),
    ];
    let (status, _) = server.send("GET", "/v1/memories", &wrong_project, "").await;
    assert_eq!(status, 403);
    // The key allows 10 a second and the clock stands still: two admitted so far (a refused
    // request spends nothing), eight more, then the limit.
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(server.send("GET", "/v1/memories", &headers, "").await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429]);
}

#[test]
fn the_arguments_parse_and_bad_ones_are_refused() {
    let words = |s: &str| {
        s.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    };
    let args =
        super::args::Args::parse(words("--listen 127.0.0.1:9000 --bare --config x.toml")).unwrap();
    assert_eq!(args.listen.port(), 9000);
    assert_eq!(args.mode, Mode::Bare);
    let args = super::args::Args::parse(words("--stages auth,scope,limit")).unwrap();
    assert_eq!(args.mode, Mode::AuthScopeLimit);
    assert!(super::args::Args::parse(words("--stages auth,limit")).is_err());
    assert!(super::args::Args::parse(words("--bare --stages all")).is_err());
    assert!(super::args::Args::parse(words("--listen nowhere")).is_err());
    assert!(super::args::Args::parse(words("--config")).is_err());
    assert!(super::args::Args::parse(words("--verbose")).is_err());
}

/// The server built its quota stage with the memory API's routes whatever the config said:
/// `[[quota.routes]]` must reach it.
#[tokio::test]
async fn the_configs_quota_routes_reach_the_servers_quota_stage() {
    let dev = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_demo\"\nadds_per_month = 1\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"development\"\n\
         [[quota.routes]]\nmethod = \"POST\"\npath = \"/v1/memories/*\"\noperation = \"add\"\n",
        dev.hash().to_hex()
    );
    let server = serve(&Config::from_toml(&text).unwrap(), Mode::Full).await;
    let auth = format!("Bearer {}", dev.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    let (status, answer) = server
        .send("POST", "/v1/memories", &headers, r#"{"text":"one"}"#)
        .await;
    assert_eq!(
        (status, answer["results"][0]["event"].as_str()),
        (200, Some("ADD"))
    );
    // A search is an add under this config's prefix, and the one add is spent.
    let (status, answer) = server
        .send(
            "POST",
            "/v1/memories/search",
            &headers,
            r#"{"query":"one"}"#,
        )
        .await;
    assert_eq!((status, answer), (200, serde_json::json!({"results": []})));
}
