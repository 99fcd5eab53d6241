//! Unmetered routes, and a custom classifier metering paths of its own.

use super::*;

fn unmetered_routes() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/health"),
        (Method::DELETE, "/v1/memories/x"),
        (Method::PUT, "/v1/memories"),
        (Method::GET, "/v1/other"),
        (Method::GET, "/v1/memories/search"),
        (Method::POST, "/v1/memories/x"),
    ]
}

#[tokio::test]
async fn unmetered_routes_are_never_counted_even_after_exhaustion() {
    let quota = Quota::new(1, 1);
    for (method, path) in unmetered_routes() {
        quota.assert_served(request(method, path)).await;
    }
    assert_eq!(quota.used(Operation::Add).await, 0);
    assert_eq!(quota.used(Operation::Query).await, 0);

    quota.assert_served(add()).await;
    quota.assert_served(list()).await;
    quota.assert_degraded(add(), Operation::Add).await;
    quota.assert_degraded(list(), Operation::Query).await;
    for _ in 0..3 {
        for (method, path) in unmetered_routes() {
            quota.assert_served(request(method, path)).await;
        }
    }
    assert_eq!(quota.used(Operation::Add).await, 1);
    assert_eq!(quota.used(Operation::Query).await, 1);
}

#[tokio::test]
async fn unmetered_routes_need_no_scope() {
    let quota = Quota::new(1, 1);
    for (method, path) in unmetered_routes() {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(String::new())
            .unwrap();
        quota.assert_served(request).await;
    }
}

#[tokio::test]
async fn a_trailing_slash_or_a_query_string_is_the_same_route() {
    let quota = Quota::new(2, 2);
    quota
        .assert_served(request(Method::POST, "/v1/memories/"))
        .await;
    quota
        .assert_served(request(Method::GET, "/v1/memories?limit=5"))
        .await;
    assert_eq!(quota.used(Operation::Add).await, 1);
    assert_eq!(quota.used(Operation::Query).await, 1);
}

/// With the queries used up, `HEAD /v1/memories` ran the list handler: a free query, and its
/// `content-length` told the size of the real answer. HEAD is the GET it stands for.
#[tokio::test]
async fn head_is_metered_like_get() {
    let quota = Quota::new(1, 1);
    quota
        .assert_served(request(Method::HEAD, "/v1/memories"))
        .await;
    assert_eq!(quota.used(Operation::Query).await, 1);
    let outcome = quota
        .assert_degraded(request(Method::HEAD, "/v1/memories"), Operation::Query)
        .await;
    assert_eq!(outcome.reply.body.len(), EMPTY_RESULTS.len());
    quota.assert_degraded(list(), Operation::Query).await;
    assert_eq!(quota.used(Operation::Query).await, 1);
}

// ---- a custom classifier ----

const GRPC_ADD: &str = "/memorysync.Memories/Add";
const GRPC_SEARCH: &str = "/memorysync.Memories/Search";

fn grpc_classifier(method: &Method, path: &str) -> Option<Operation> {
    match (method, path) {
        (&Method::POST, GRPC_ADD) => Some(Operation::Add),
        (&Method::POST, GRPC_SEARCH) => Some(Operation::Query),
        _ => None,
    }
}

#[tokio::test]
async fn a_custom_classifier_meters_a_grpc_path() {
    let quota = Quota::new(2, 5)
        .map(|layer| layer.with_classifier(|m: &Method, p: &str| grpc_classifier(m, p)));
    quota
        .assert_served(grpc(request(Method::POST, GRPC_ADD)))
        .await;
    quota
        .assert_served(grpc(request(Method::POST, GRPC_ADD)))
        .await;
    assert_eq!(quota.used(Operation::Add).await, 2);
    quota
        .assert_served(grpc(request(Method::POST, GRPC_SEARCH)))
        .await;
    assert_eq!(quota.used(Operation::Query).await, 1);

    // The default routes are unmetered now.
    for _ in 0..3 {
        quota.assert_served(add()).await;
    }
    assert_eq!(quota.used(Operation::Add).await, 2);

    let before = quota.backend.calls();
    let outcome = quota.send(grpc(request(Method::POST, GRPC_ADD))).await;
    assert_grpc_degraded(&outcome, Operation::Add);
    assert_eq!(quota.backend.calls(), before);
    assert_eq!(quota.used(Operation::Add).await, 2);
}
