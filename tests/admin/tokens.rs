//! Who may call: admin tokens, the read role, the refusals, and the audit event of every call.

use http::StatusCode;
use serde_json::json;

use crate::harness::{Admin, Backend};

#[tokio::test]
async fn calls_without_a_valid_token_are_refused_as_problems_and_audited() {
    let admin = Admin::start(Backend::Memory).await;
    let other = memorysync_pipeline::key::AdminToken::generate().unwrap();
    let cases = [
        (None, "missing_admin_token"),
        (Some("Basic YWRtaW46YWRtaW4="), "missing_admin_token"),
        (Some("msa_tooshort"), "malformed_admin_token"),
        (Some(other.expose_secret()), "invalid_admin_token"),
    ];
    for (token, code) in cases {
        let (status, headers, body) = match token {
            Some(t) if t.starts_with("Basic") => {
                let request = http::Request::get("/admin/v1/keys")
                    .header("authorization", t)
                    .body(axum::body::Body::empty())
                    .unwrap();
                admin.send(request).await
            }
            _ => admin.call_as(token, "GET", "/admin/v1/keys", None).await,
        };
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(body["code"], code);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // An unknown path is refused before it is routed: no token, no map of the API.
    let (status, _, _) = admin.call_as(None, "GET", "/admin/v1/nowhere", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let lines = admin.audit_lines().await;
    let refused: Vec<_> = lines
        .iter()
        .filter(|l| l["path"].as_str().is_some_and(|p| p.starts_with("/admin/")))
        .collect();
    assert_eq!(refused.len(), 5, "{lines:#?}");
    for line in refused {
        assert_eq!(line["outcome"], "unauthenticated");
        assert_eq!(line["status"], 401);
        assert!(
            line["detail"]
                .as_str()
                .unwrap()
                .starts_with("admin token=none result=")
        );
        assert!(!line.to_string().contains(other.expose_secret()));
    }
}

#[tokio::test]
async fn a_read_token_reads_and_may_change_nothing() {
    let admin = Admin::start(Backend::Memory).await;
    let reader = admin.reader.expose_secret().to_owned();
    let (status, _, body) = admin
        .call_as(Some(&reader), "GET", "/admin/v1/keys", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = admin
        .call_as(
            Some(&reader),
            "POST",
            "/admin/v1/keys/key_file/revoke",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "read_only_token");
    // Still live: the refusal changed nothing.
    let key = admin.file_key.expose_secret().to_owned();
    assert_eq!(admin.add_with(&key).await.0, StatusCode::OK);

    let lines = admin.audit_lines().await;
    let forbidden = lines
        .iter()
        .find(|l| l["status"] == 403)
        .expect("the refused call is audited");
    assert_eq!(forbidden["outcome"], "forbidden");
    assert_eq!(forbidden["method"], "POST");
    assert_eq!(
        forbidden["detail"],
        "admin token=tok_read result=read_only_token"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_after_the_token() {
    let admin = Admin::start(Backend::Memory).await;
    let (status, body) = admin.call("GET", "/admin/v1/nowhere", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = admin
        .call("DELETE", "/admin/v1/keys", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_names_every_route() {
    let admin = Admin::start(Backend::Memory).await;
    let (status, doc) = admin.call("GET", "/admin/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/admin/v1/keys",
        "/admin/v1/keys/{id}",
        "/admin/v1/keys/{id}/rotate",
        "/admin/v1/keys/{id}/revoke",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
}
