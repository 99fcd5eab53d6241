use http::Method;
use serde_json::json;

use crate::admin_cli::testing::{call, clap_refuses, parse, printed, refused, sent};

#[test]
fn each_keys_command_builds_its_request() {
    let cases = [
        (
            vec![
                "keys",
                "list",
                "--project",
                "proj_a",
                "--environment",
                "production",
            ],
            Method::GET,
            "/admin/v1/keys?project=proj_a&environment=production",
            None,
        ),
        (
            vec![
                "keys",
                "create",
                "--project",
                "proj_a",
                "--environment",
                "development",
                "--id",
                "key_new",
                "--rps",
                "5",
                "--rps-window",
                "4s",
                "--rpm-window",
                "600s",
                "--expires",
                "2027-01-01T01:00:00+01:00",
            ],
            Method::POST,
            "/admin/v1/keys",
            Some(
                json!({"project": "proj_a", "environment": "development", "id": "key_new",
                        "rps": 5, "rps_window": "4s", "rpm_window": "10m",
                        "expires_at": "2027-01-01T00:00:00Z"}),
            ),
        ),
        (
            vec!["keys", "show", "key_a"],
            Method::GET,
            "/admin/v1/keys/key_a",
            None,
        ),
        (
            vec!["keys", "update", "key_a", "--rps", "none", "--rpm", "600"],
            Method::PATCH,
            "/admin/v1/keys/key_a",
            Some(json!({"rps": null, "rpm": 600})),
        ),
        (
            vec![
                "keys",
                "update",
                "key_a",
                "--rps-window",
                "none",
                "--rpm-window",
                "2h",
            ],
            Method::PATCH,
            "/admin/v1/keys/key_a",
            Some(json!({"rps_window": null, "rpm_window": "2h"})),
        ),
        (
            vec!["keys", "update", "key_a", "--expires", "none"],
            Method::PATCH,
            "/admin/v1/keys/key_a",
            Some(json!({"expires_at": null})),
        ),
        (
            vec![
                "keys", "rotate", "key_a", "--grace", "24h", "--new-id", "key_b",
            ],
            Method::POST,
            "/admin/v1/keys/key_a/rotate",
            Some(json!({"grace_seconds": 86_400, "id": "key_b"})),
        ),
        (
            vec!["keys", "revoke", "key_a"],
            Method::POST,
            "/admin/v1/keys/key_a/revoke",
            Some(json!({})),
        ),
    ];
    for (args, method, path, body) in cases {
        let built = call(&args);
        assert_eq!(sent(&built), (method, path.to_owned(), body), "{args:?}");
        assert_eq!(built.list.is_some(), args[1] == "list", "{args:?}");
    }
}

#[test]
fn lists_read_every_page_unless_limited_and_flags_go_anywhere() {
    assert_eq!(call(&["keys", "list"]).list, Some(None));
    assert_eq!(call(&["keys", "list", "--limit", "3"]).list, Some(Some(3)));
    // The remote flags are taken before and after the subcommand.
    let (remote, _) = parse(&[
        "keys",
        "--admin-url",
        "http://127.0.0.1:1",
        "list",
        "--json",
        "--token-env",
        "OPS",
    ]);
    assert_eq!(remote.admin_url.as_deref(), Some("http://127.0.0.1:1"));
    assert_eq!((remote.token_env.as_str(), remote.json), ("OPS", true));
    let (remote, _) = parse(&["keys", "list"]);
    assert_eq!(remote.token_env, "MEMORYSYNC_ADMIN_TOKEN");
    assert!(!remote.json && remote.ca_file.is_none() && remote.admin_url.is_none());
}

#[test]
fn bad_keys_arguments_are_refused_before_anything_is_sent() {
    for (args, says) in [
        (vec!["keys", "list", "--limit", "0"], "--limit"),
        (
            vec!["keys", "list", "--environment", "staging"],
            "--environment",
        ),
        (vec!["keys", "show", "key/../x"], "ID: an id is"),
        (
            vec!["keys", "update", "key_a"],
            "needs --rps, --rpm, --rps-window, --rpm-window or --expires",
        ),
        (vec!["keys", "update", "key_a", "--rps", "0"], "--rps"),
        (
            vec!["keys", "update", "key_a", "--rps-window", "2h"],
            "--rps-window must be a duration such as 4s or 10m, whole seconds from 1s to 1h, or none",
        ),
        (
            vec![
                "keys",
                "create",
                "--project",
                "p",
                "--environment",
                "production",
                "--rpm-window",
                "30s",
            ],
            "--rpm-window must be a duration",
        ),
        (vec!["keys", "rotate", "key_a", "--grace", "31d"], "--grace"),
        (
            vec![
                "keys",
                "create",
                "--project",
                "p",
                "--environment",
                "production",
                "--rpm",
                "x",
            ],
            "--rpm",
        ),
    ] {
        let message = refused(&args);
        assert!(message.contains(says), "{args:?}: {message}");
    }
    assert!(
        clap_refuses(&["keys", "rotate", "key_a"]),
        "--grace is required"
    );
    assert!(clap_refuses(&["keys", "create", "--project", "p"]));
    assert!(
        clap_refuses(&["keys", "list", "--token", "msa_x"]),
        "no flag takes a token"
    );
}

#[test]
fn keys_print_a_table_a_record_and_the_new_key_alone_first() {
    let key = json!({"id": "key_a", "project": "proj_a", "environment": "production",
        "rps": 10, "rpm": null, "rps_window": "4s", "rpm_window": null,
        "expires_at": null, "revoked_at": null, "owner": "api",
        "status": "active", "usage": {"requests": 3, "last_used": "2026-11-02T10:00:00Z"}});
    let page = json!({"items": [key, {"id": "key_file", "project": "proj_a",
        "environment": "development", "status": "revoked", "owner": "config",
        "usage": {"requests": 0, "last_used": null}}], "next_cursor": null});
    assert_eq!(
        printed(&call(&["keys", "list"]), &page),
        "ID        PROJECT  ENV          STATUS   RPS  RPM  RPS_WINDOW  RPM_WINDOW  REQUESTS  LAST_USED             OWNER\n\
         key_a     proj_a   production   active   10   -    4s          -           3         2026-11-02T10:00:00Z  api\n\
         key_file  proj_a   development  revoked  -    -    -           -           0         -                     config\n"
    );
    let shown = printed(&call(&["keys", "show", "key_a"]), &key);
    assert!(
        shown.starts_with("ID           key_a\nPROJECT      proj_a\n"),
        "{shown}"
    );
    assert!(
        shown.contains("\nRPM          -\nRPS_WINDOW   4s\nRPM_WINDOW   -\n")
            && shown.ends_with("LAST_USED    2026-11-02T10:00:00Z\n")
    );

    let created = json!({"key": "msk_live_secret", "record": key});
    let shown = printed(
        &call(&[
            "keys",
            "create",
            "--project",
            "proj_a",
            "--environment",
            "production",
        ]),
        &created,
    );
    let (first, rest) = shown.split_once("\n\n").unwrap();
    assert_eq!(first, "msk_live_secret");
    assert!(rest.starts_with("ID           key_a\n") && !rest.contains("msk_live"));

    let rotated = json!({"key": "msk_live_new", "record": key,
        "previous": {"id": "key_old", "expires_at": "2026-11-03T00:00:00Z"}});
    let shown = printed(
        &call(&["keys", "rotate", "key_old", "--grace", "1d"]),
        &rotated,
    );
    assert!(shown.starts_with("msk_live_new\n\nID "), "{shown}");
    assert!(shown.ends_with("the previous key key_old works until 2026-11-03T00:00:00Z\n"));
}
