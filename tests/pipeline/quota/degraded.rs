//! The degraded answer: gRPC framing, custom empty results, the header and the extension.

use super::*;

#[tokio::test]
async fn a_degraded_grpc_request_gets_status_ok_with_one_empty_message() {
    let quota = Quota::new(1, 1);
    quota.assert_served(grpc(add())).await;
    let outcome = quota.send(grpc(add())).await;
    assert_grpc_degraded(&outcome, Operation::Add);
    // A query degrades the same way: the empty message is the same for every message type.
    quota.assert_served(grpc(search())).await;
    let outcome = quota.send(grpc(search())).await;
    assert_grpc_degraded(&outcome, Operation::Query);
    assert_eq!(quota.backend.calls(), 2);
}

#[tokio::test]
async fn a_grpc_content_type_with_a_suffix_is_grpc_too() {
    let quota = Quota::new(0, 0);
    let mut request = add();
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc+proto"),
    );
    let outcome = quota.send(request).await;
    assert_grpc_degraded(&outcome, Operation::Add);
}

// ---- the degraded answer's options ----

#[tokio::test]
async fn a_custom_empty_result_changes_only_that_operation() {
    let custom = r#"{"results":[],"degraded":true}"#;
    let quota = Quota::new(0, 0).map(|layer| layer.with_empty_result(Operation::Query, custom));
    let outcome = quota.send(search()).await;
    assert_eq!(outcome.status(), 200);
    assert_eq!(outcome.reply.header("content-type"), "application/json");
    assert_eq!(outcome.text(), custom);
    assert_eq!(
        outcome.degraded(),
        Some(QuotaDegraded {
            operation: Operation::Query
        })
    );
    assert_eq!(quota.send(list()).await.text(), custom);

    quota.assert_degraded(add(), Operation::Add).await;
    assert_eq!(quota.backend.calls(), 0);
}

#[tokio::test]
async fn a_custom_empty_result_for_adds_leaves_queries_alone() {
    let quota =
        Quota::new(0, 0).map(|layer| layer.with_empty_result(Operation::Add, "{\"id\":null}"));
    assert_eq!(quota.send(add()).await.text(), r#"{"id":null}"#);
    quota.assert_degraded(search(), Operation::Query).await;
}

#[tokio::test]
async fn no_degraded_header_by_default() {
    let quota = Quota::new(1, 1);
    let served = quota.send(add()).await;
    let degraded = quota.send(add()).await;
    assert_degraded(&degraded, Operation::Add);
    for outcome in [&served, &degraded] {
        assert_eq!(outcome.reply.headers.get("x-quota-degraded"), None);
    }
}

#[tokio::test]
async fn the_degraded_header_names_the_operation_on_degraded_responses_only() {
    let quota = Quota::new(1, 1)
        .map(|layer| layer.with_degraded_header(HeaderName::from_static("x-quota-degraded")));

    let served = quota.send(add()).await;
    assert_served(&served);
    assert_eq!(served.reply.headers.get("x-quota-degraded"), None);
    let degraded = quota.send(add()).await;
    assert_degraded(&degraded, Operation::Add);
    assert_eq!(degraded.reply.header("x-quota-degraded"), "add");

    let served = quota.send(search()).await;
    assert_served(&served);
    assert_eq!(served.reply.headers.get("x-quota-degraded"), None);
    let degraded = quota.send(list()).await;
    assert_degraded(&degraded, Operation::Query);
    assert_eq!(degraded.reply.header("x-quota-degraded"), "query");

    let unmetered = quota.send(request(Method::GET, "/health")).await;
    assert_eq!(unmetered.reply.headers.get("x-quota-degraded"), None);
    assert_eq!(unmetered.degraded(), None);

    let degraded = quota.send(grpc(add())).await;
    assert_grpc_degraded(&degraded, Operation::Add);
    assert_eq!(degraded.reply.header("x-quota-degraded"), "add");
}

#[tokio::test]
async fn the_quota_degraded_extension_is_on_degraded_responses_only() {
    let quota = Quota::new(1, 1);
    assert_eq!(quota.send(add()).await.degraded(), None);
    assert_eq!(quota.send(list()).await.degraded(), None);
    assert_eq!(
        quota.send(request(Method::GET, "/health")).await.degraded(),
        None
    );
    assert_eq!(
        quota.send(add()).await.degraded(),
        Some(QuotaDegraded {
            operation: Operation::Add
        })
    );
    assert_eq!(
        quota.send(search()).await.degraded(),
        Some(QuotaDegraded {
            operation: Operation::Query
        })
    );
    // An inner 5xx passes through unmarked.
    let quota = Quota::new(1, 1);
    quota.backend.status(500);
    assert_eq!(quota.send(add()).await.degraded(), None);
}
