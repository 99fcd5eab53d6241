use http::Method;
use serde_json::json;

use crate::admin_cli::render::show;
use crate::admin_cli::testing::{call, printed, refused, sent};

#[test]
fn audit_query_sends_its_filters_in_utc_and_reads_every_page() {
    let built = call(&[
        "audit",
        "query",
        "--from",
        "2026-11-01T01:00:00+01:00",
        "--to",
        "2026-12-01T00:00:00Z",
        "--key-id",
        "key_a",
        "--project",
        "proj_a",
        "--outcome",
        "rate_limited",
    ]);
    assert_eq!(
        sent(&built),
        (
            Method::GET,
            "/admin/v1/audit?from=2026-11-01T00%3A00%3A00Z&to=2026-12-01T00%3A00%3A00Z\
             &key_id=key_a&project=proj_a&outcome=rate_limited"
                .to_owned(),
            None
        )
    );
    assert_eq!(built.list, Some(None));
    assert_eq!(
        call(&["audit", "query", "--limit", "20"]).list,
        Some(Some(20))
    );
    for (args, says) in [
        (
            vec!["audit", "query", "--outcome", "denied"],
            "--outcome must be one of allowed",
        ),
        (
            vec!["audit", "query", "--from", "yesterday"],
            "--from must be an RFC 3339",
        ),
        (
            vec!["audit", "query", "--key-id", "a b"],
            "--key-id: an id is",
        ),
    ] {
        let message = refused(&args);
        assert!(message.contains(says), "{args:?}: {message}");
    }
}

#[test]
fn audit_events_print_as_a_table() {
    let page = json!({"items": [
        {"ts": "2026-11-02T10:00:00Z", "seq": 41, "method": "POST", "path": "/admin/v1/keys",
         "status": 201, "outcome": "allowed", "key_id": "key_a", "project": "proj_a",
         "client_ip": "127.0.0.1", "latency_us": 812, "detail": "admin token=tok_ops result=ok"},
        {"ts": "2026-11-02T09:59:00Z", "seq": 40, "method": "GET", "path": "/v1/memories",
         "status": 401, "outcome": "unauthenticated", "latency_us": 40}
    ], "next_cursor": null});
    assert_eq!(
        printed(&call(&["audit", "query"]), &page),
        "TS                    SEQ  METHOD  PATH            STATUS  OUTCOME          KEY_ID  PROJECT  CLIENT_IP  LATENCY_US  DETAIL\n\
         2026-11-02T10:00:00Z  41   POST    /admin/v1/keys  201     allowed          key_a   proj_a   127.0.0.1  812         admin token=tok_ops result=ok\n\
         2026-11-02T09:59:00Z  40   GET     /v1/memories    401     unauthenticated  -       -        -          40          -\n"
    );
}

#[test]
fn verify_remote_prints_the_report_and_fails_on_a_break() {
    let built = call(&["audit", "verify-remote"]);
    assert_eq!(
        sent(&built),
        (Method::GET, "/admin/v1/audit/verify".to_owned(), None)
    );
    let intact = json!({"ok": true, "lines": 12, "head": {"seq": 12, "hash": "ab12"},
        "first_break": null, "recoveries": []});
    let shown = show(&built.view, &intact, false);
    assert_eq!(
        shown.text,
        "ok: yes\nlines: 12\nhead: seq 12, sha256 ab12\nfirst break: none\nrecoveries: none\n"
    );
    assert!(!shown.failed);
    let broken = json!({"ok": false, "lines": 3, "head": null,
        "first_break": {"line": 2, "kind": "prev_mismatch"}});
    let shown = show(&built.view, &broken, false);
    assert!(shown.failed);
    assert!(
        shown.text.ends_with(
            "head: none (no lines)\nfirst break: {\"kind\":\"prev_mismatch\",\"line\":2}\n"
        ),
        "{}",
        shown.text
    );
    assert!(
        show(&built.view, &broken, true).failed,
        "--json fails the same"
    );
}
