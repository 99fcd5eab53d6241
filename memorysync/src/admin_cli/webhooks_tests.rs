use http::Method;
use serde_json::json;

use crate::admin_cli::testing::{call, clap_refuses, printed, refused, sent};

#[test]
fn each_webhooks_command_builds_its_request() {
    let cases = [
        (
            vec!["webhooks", "endpoints", "list"],
            Method::GET,
            "/admin/v1/webhooks/endpoints",
            None,
        ),
        (
            vec!["webhooks", "endpoints", "show", "ep_1"],
            Method::GET,
            "/admin/v1/webhooks/endpoints/ep_1",
            None,
        ),
        (
            vec![
                "webhooks",
                "endpoints",
                "create",
                "--url",
                "https://hooks.example/in",
                "--event",
                "quota.threshold,quota.exhausted",
                "--project",
                "proj_a",
            ],
            Method::POST,
            "/admin/v1/webhooks/endpoints",
            Some(
                json!({"url": "https://hooks.example/in", "project": "proj_a",
                        "events": ["quota.threshold", "quota.exhausted"]}),
            ),
        ),
        (
            vec![
                "webhooks",
                "endpoints",
                "create",
                "--url",
                "https://h/",
                "--event",
                "webhook.test",
            ],
            Method::POST,
            "/admin/v1/webhooks/endpoints",
            Some(json!({"url": "https://h/", "events": ["webhook.test"]})),
        ),
        (
            vec![
                "webhooks",
                "endpoints",
                "update",
                "ep_1",
                "--event",
                "quota.threshold",
                "--event",
                "webhook.test",
                "--disable",
            ],
            Method::PATCH,
            "/admin/v1/webhooks/endpoints/ep_1",
            Some(json!({"events": ["quota.threshold", "webhook.test"], "enabled": false})),
        ),
        (
            vec!["webhooks", "endpoints", "delete", "ep_1"],
            Method::DELETE,
            "/admin/v1/webhooks/endpoints/ep_1",
            None,
        ),
        (
            vec!["webhooks", "endpoints", "enable", "ep_1"],
            Method::POST,
            "/admin/v1/webhooks/endpoints/ep_1/enable",
            Some(json!({})),
        ),
        (
            vec!["webhooks", "endpoints", "rotate-secret", "ep_1"],
            Method::POST,
            "/admin/v1/webhooks/endpoints/ep_1/rotate-secret",
            Some(json!({})),
        ),
        (
            vec![
                "webhooks",
                "attempts",
                "--endpoint",
                "ep_1",
                "--status",
                "failed",
            ],
            Method::GET,
            "/admin/v1/webhooks/attempts?endpoint=ep_1&status=failed",
            None,
        ),
        (
            vec!["webhooks", "dead-letters"],
            Method::GET,
            "/admin/v1/webhooks/dead-letters",
            None,
        ),
        (
            vec!["webhooks", "replay", "dl_7"],
            Method::POST,
            "/admin/v1/webhooks/dead-letters/dl_7/replay",
            Some(json!({})),
        ),
        (
            vec!["webhooks", "replay", "--since", "2026-11-01T00:00:00+00:00"],
            Method::POST,
            "/admin/v1/webhooks/dead-letters/replay?since=2026-11-01T00%3A00%3A00Z",
            Some(json!({})),
        ),
    ];
    for (args, method, path, body) in cases {
        assert_eq!(
            sent(&call(&args)),
            (method, path.to_owned(), body),
            "{args:?}"
        );
    }
    assert_eq!(
        call(&["webhooks", "attempts", "--limit", "5"]).list,
        Some(Some(5))
    );
    assert_eq!(call(&["webhooks", "dead-letters"]).list, Some(None));
}

#[test]
fn bad_webhooks_arguments_are_refused() {
    assert!(refused(&["webhooks", "endpoints", "update", "ep_1"]).contains("needs --url"));
    assert!(refused(&["webhooks", "replay", "--since", "now"]).contains("--since"));
    assert!(refused(&["webhooks", "attempts", "--endpoint", "ep 1"]).contains("--endpoint"));
    // One dead letter, or every one since a time: exactly one of the two.
    assert!(clap_refuses(&["webhooks", "replay"]));
    assert!(clap_refuses(&[
        "webhooks",
        "replay",
        "dl_7",
        "--since",
        "2026-11-01T00:00:00Z"
    ]));
    assert!(clap_refuses(&[
        "webhooks",
        "endpoints",
        "create",
        "--url",
        "https://h/"
    ]));
}

#[test]
fn webhooks_print_endpoints_secrets_attempts_and_dead_letters() {
    let endpoint = json!({"id": "ep_1", "owner": "api", "project": "proj_a",
        "projects": ["proj_a"], "url": "https://hooks.example/in",
        "events": ["quota.threshold", "quota.exhausted"], "state": "enabled",
        "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
        "secret_rotation_ends_at": null});
    let page = json!({"items": [endpoint, {"id": "ep_cfg_0", "owner": "config", "project": null,
        "projects": [], "url": "http://127.0.0.1:9/h", "events": ["webhook.test"],
        "state": "disabled_gone"}], "next_cursor": null});
    assert_eq!(
        printed(&call(&["webhooks", "endpoints", "list"]), &page),
        "ID        OWNER   PROJECTS  STATE          EVENTS                           URL\n\
         ep_1      api     proj_a    enabled        quota.threshold,quota.exhausted  https://hooks.example/in\n\
         ep_cfg_0  config  *         disabled_gone  webhook.test                     http://127.0.0.1:9/h\n"
    );
    let created = json!({"secret": "whsec_c2VjcmV0", "endpoint": endpoint});
    let shown = printed(
        &call(&["webhooks", "endpoints", "rotate-secret", "ep_1"]),
        &created,
    );
    let (first, rest) = shown.split_once("\n\n").unwrap();
    assert_eq!(first, "whsec_c2VjcmV0");
    assert!(
        rest.starts_with("ID                ep_1\n") && !rest.contains("whsec_"),
        "{rest}"
    );

    let attempts = json!({"items": [{"time": "2026-11-02T10:00:00Z", "endpoint": "ep_1",
        "event": "quota.threshold", "attempt": 2, "status": 503, "latency_ms": 120,
        "error": "server error"}], "next_cursor": null});
    assert_eq!(
        printed(&call(&["webhooks", "attempts"]), &attempts),
        "TIME                  ENDPOINT  EVENT            ATTEMPT  STATUS  LATENCY_MS  ERROR\n\
         2026-11-02T10:00:00Z  ep_1      quota.threshold  2        503     120         server error\n"
    );
    let letters = json!({"count": 1, "items": [{"id": "dl_7", "endpoint": "ep_1",
        "event": "quota.exhausted", "project": "proj_a", "attempts": 8,
        "failed_at": "2026-11-02T11:00:00Z", "reason": "connection refused"}],
        "next_cursor": null});
    assert_eq!(
        printed(&call(&["webhooks", "dead-letters"]), &letters),
        "dead letters: 1\n\
         ID    ENDPOINT  EVENT            PROJECT  ATTEMPTS  FAILED_AT             REASON\n\
         dl_7  ep_1      quota.exhausted  proj_a   8         2026-11-02T11:00:00Z  connection refused\n"
    );
    let deleted = call(&["webhooks", "endpoints", "delete", "ep_1"]);
    assert_eq!(
        printed(&deleted, &serde_json::Value::Null),
        "endpoint ep_1 deleted\n"
    );
}
