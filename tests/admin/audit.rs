//! `/admin/v1/audit`: the log read back newest first with its filters and pages, and the chain
//! verified, on the in-memory log and on JSON Lines beside the embedded store.

use http::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Admin, Backend, PROJECT};

/// Creates `key_audited`, uses it once, and makes one refused admin call.
async fn some_history(admin: &Admin) -> String {
    let (status, created) = admin
        .call(
            "POST",
            "/admin/v1/keys",
            Some(json!({"project": PROJECT, "environment": "development", "id": "key_audited"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);
    let (status, _, _) = admin.call_as(None, "GET", "/admin/v1/keys", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    key
}

async fn items(admin: &Admin, query: &str) -> Vec<Value> {
    let (status, page) = admin
        .call("GET", &format!("/admin/v1/audit{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_log_answers_newest_first_by_key_project_outcome_and_time() {
    let admin = Admin::start(Backend::Memory).await;
    some_history(&admin).await;
    admin.deployment.audit().flush().await;

    let by_key = items(&admin, "?key_id=key_audited").await;
    let paths: Vec<_> = by_key
        .iter()
        .map(|l| (l["method"].as_str().unwrap(), l["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [("POST", "/v1/memories"), ("POST", "/admin/v1/keys")],
        "newest first"
    );
    assert_eq!(by_key[1]["detail"], "admin token=tok_ops result=ok");

    let refused = items(&admin, "?outcome=unauthenticated").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["path"], "/admin/v1/keys");
    assert_eq!(
        items(
            &admin,
            &format!("?project={PROJECT}&outcome=allowed&key_id=key_audited")
        )
        .await
        .len(),
        2
    );
    assert!(items(&admin, "?from=2027-01-15T08:00:01Z").await.is_empty());
    let all = items(
        &admin,
        "?from=2027-01-15T08:00:00Z&to=2027-01-15T08:00:01Z&limit=500",
    )
    .await;
    assert!(all.len() >= 4, "{all:#?}");

    // One line a page, to the end: each once, newest first.
    let mut seqs = Vec::new();
    let mut path = "/admin/v1/audit?limit=1".to_owned();
    loop {
        let (_, page) = admin.call("GET", &path, None).await;
        seqs.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["seq"].as_u64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/v1/audit?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted = seqs.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seqs, sorted, "every line once, newest first");

    for (query, status, code) in [
        ("?from=yesterday", 422, "invalid_request"),
        (
            "?from=2027-01-16T00:00:00Z&to=2027-01-15T00:00:00Z",
            422,
            "from_after_to",
        ),
        ("?cursor=nonsense", 400, "invalid_cursor"),
        ("?outcome=maybe", 400, "bad_request"),
        ("?limit=501", 400, "bad_request"),
    ] {
        let (got, body) = admin
            .call("GET", &format!("/admin/v1/audit{query}"), None)
            .await;
        assert_eq!(
            (got.as_u16(), body["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn verify_reports_an_intact_chain_and_the_first_break_of_an_edited_one() {
    let dir = tempfile::tempdir().unwrap();
    let admin = Admin::start(Backend::Embedded(dir.path())).await;
    some_history(&admin).await;
    let (status, report) = admin.call("GET", "/admin/v1/audit/verify", None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let lines = report["lines"].as_u64().unwrap();
    // The reconciliation at start, the create, the add and the refused call.
    assert_eq!(lines, 4, "{report}");
    assert_eq!(report["checkpoint"]["status"], "reached");
    assert_eq!(report["first_break"], Value::Null);

    // An operator edits a line: the chain breaks there.
    let audit_dir = dir.path().join("audit");
    let segment = std::fs::read_dir(&audit_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(
        &segment,
        text.replacen("\"status\":201", "\"status\":200", 1),
    )
    .unwrap();
    let (status, report) = admin.call("GET", "/admin/v1/audit/verify", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["ok"], false, "{report}");
    assert!(report["first_break"]["line"].as_u64().is_some(), "{report}");
}
