//! Projects without a plan, requests without a scope, and the stage behind `ApiKeyAuth` and
//! `ProjectScope`.

use super::*;

#[tokio::test]
async fn a_project_without_a_plan_is_unmetered() {
    let quota = Quota::new(1, 1);
    for _ in 0..5 {
        quota
            .assert_served(scoped_to("proj_other", Method::POST, "/v1/memories"))
            .await;
        quota
            .assert_served(scoped_to("proj_other", Method::GET, "/v1/memories"))
            .await;
    }
    let jan = month(2027, 1);
    let store = quota.layer.store();
    for operation in [Operation::Add, Operation::Query] {
        assert_eq!(
            store
                .used(&key("proj_other", operation, jan))
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.used(&key(PROJECT, operation, jan)).await.unwrap(), 0);
    }
    // The planned project is still metered.
    quota.assert_served(add()).await;
    quota.assert_degraded(add(), Operation::Add).await;
}

#[tokio::test]
async fn a_metered_request_without_a_scope_is_refused_401_missing_api_key() {
    let quota = Quota::new(10, 10);
    for (method, path) in [
        (Method::POST, "/v1/memories"),
        (Method::POST, "/v1/memories/search"),
        (Method::GET, "/v1/memories"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(String::new())
            .unwrap();
        let outcome = quota.send(request).await;
        assert_problem(&outcome.reply, 401, "missing_api_key");
        assert_eq!(outcome.degraded(), None);
    }
    assert_eq!(quota.backend.calls(), 0, "the inner service was called");
    assert_eq!(quota.used(Operation::Add).await, 0);
    assert_eq!(quota.used(Operation::Query).await, 0);
}

#[tokio::test]
async fn a_grpc_request_without_a_scope_is_refused_as_grpc() {
    let quota = Quota::new(10, 10);
    let request = grpc(Request::post("/v1/memories").body(String::new()).unwrap());
    let outcome = quota.send(request).await;
    assert_eq!(outcome.status(), 200);
    assert_eq!(outcome.reply.header("content-type"), "application/grpc");
    assert_eq!(outcome.reply.header("grpc-status"), "16"); // UNAUTHENTICATED
    assert_eq!(quota.backend.calls(), 0);
}

// ---- behind ApiKeyAuth and ProjectScope ----

#[tokio::test]
async fn behind_auth_and_scope_the_keys_project_is_metered() {
    let fixture = Fixture::new().await;
    let plans = QuotaPlans::new().with_plan(PROJECT, Plan::new(2, 10));
    let quota = QuotaDegradeLayer::new(plans).with_clock(fixture.clock.clone());
    let service = ServiceBuilder::new()
        .layer(fixture.auth_layer())
        .layer(ProjectScopeLayer::new())
        .layer(quota.clone())
        .service(recording_service(&fixture.recorder));
    let keyed_add = || {
        Request::post("/v1/memories")
            .header("x-api-key", fixture.secret())
            .header("x-project-id", PROJECT)
            .body(String::new())
            .unwrap()
    };

    for _ in 0..2 {
        let reply = send(service.clone(), keyed_add()).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.text(), "inner");
    }
    let reply = send(service.clone(), keyed_add()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.text(), r#"{"results":[]}"#);
    assert_eq!(fixture.recorder.calls(), 2);
    assert_eq!(
        fixture.recorder.scope(),
        Some(Scope::new(PROJECT, Environment::Development))
    );
    let used = quota
        .store()
        .used(&key(PROJECT, Operation::Add, Month::of(T0)))
        .await
        .unwrap();
    assert_eq!(used, 2);

    // Without a key, auth refuses before the quota is even looked at.
    let unkeyed = Request::post("/v1/memories").body(String::new()).unwrap();
    assert_problem(&send(service, unkeyed).await, 401, "missing_api_key");
    assert_eq!(fixture.recorder.calls(), 2);
}
