//! The whole pipeline under an axum `Router`, concurrent requests at one instant, a store that
//! never answers, and a refusal by both windows.

use super::*;

#[tokio::test]
async fn the_full_pipeline_under_axum_refuses_the_fourth_request_of_an_rps_3_key() {
    let limited = Limited::new(Some(3), None).await;
    let clock = limited.fixture.clock.clone();
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new().with_clock(clock.clone()))
        .stage(limited.fixture.auth_layer())
        .stage(ProjectScopeLayer::new())
        .stage(limited.limit.clone())
        .into_layer();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let list = move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "memories"
        }
    };
    let app = Router::new()
        .route("/v1/memories", get(list))
        .layer(pipeline);
    let request = |path: &str, headers: &[(&str, &str)]| {
        let mut builder =
            Request::get(path).extension(ClientAddr(SocketAddr::from(([192, 0, 2, 7], 40_000))));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    };
    let keyed = [
        ("x-api-key", limited.fixture.secret()),
        ("x-project-id", PROJECT),
    ];

    for remaining in [2, 1, 0] {
        let reply = send(app.clone(), request("/v1/memories", &keyed)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.text(), "memories");
        assert_eq!(reply.header("ratelimit-policy"), r#""rps";q=3;w=1"#);
        assert_eq!(rate_limit(&reply), RateLimitField::new("rps", remaining, 1));
    }
    let refused = send(app.clone(), request("/v1/memories", &keyed)).await;
    assert_rate_limited(&refused, 1);
    assert_eq!(handled.load(Ordering::SeqCst), 3);

    // The health route needs no key and is not the key's limit.
    let health = send(app.clone(), request("/health", &[])).await;
    assert_eq!(health.status, 200, "{health:?}");

    clock.advance(std::time::Duration::from_secs(1));
    let again = send(app, request("/v1/memories", &keyed)).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(handled.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_at_one_instant_admit_exactly_the_limit() {
    let limited = Limited::new(Some(5), Some(300)).await;
    // A counting inner service whose future is known to be `Send`, for `tokio::spawn`.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let inner = service_fn(move |_: Request<String>| {
        counter.fetch_add(1, Ordering::SeqCst);
        ready(Ok::<_, Infallible>(http::Response::new(String::from(
            "inner",
        ))))
    });
    let service = ServiceBuilder::new()
        .layer(limited.fixture.auth_layer())
        .layer(limited.limit.clone())
        .service(inner);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let service = service.clone();
            let request = limited.fixture.keyed();
            tokio::spawn(async move { send(service, request).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == 200 {
            admitted += 1;
        } else {
            assert_rate_limited(&reply, 1);
        }
    }
    assert_eq!(admitted, 5);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

/// A rate-limit store that never answers.
#[derive(Debug)]
struct UnavailableStore;

impl RateLimitStore for UnavailableStore {
    type Check = Ready<Result<Decision, StoreError>>;

    fn check(&self, _key_id: &str, _limits: Limits, _now: Timestamp) -> Self::Check {
        ready(Err(StoreError::new("connection refused")))
    }
}

#[tokio::test]
async fn an_unavailable_store_refuses_503_store_unavailable_without_calling_inside() {
    let limited = Limited::with_store(Some(3), None, UnavailableStore).await;
    let reply = limited.request().await;
    assert_problem(&reply, 503, "store_unavailable");
    assert_eq!(reply.header("retry-after"), "1");
    assert_eq!(limited.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_refusal_by_both_windows_names_the_window_that_holds_the_key_back() {
    let limited = Limited::new(Some(1), Some(1)).await;
    assert_admitted(&limited.request().await);
    limited.at(500);
    let refused = limited.request().await;
    // The minute frees at T0 + 60 s; the second would free at T0 + 1 s.
    assert_rate_limited(&refused, 60);
    let field = rate_limit(&refused);
    assert_eq!(field.t, 60);
    // `t` is the reset of the named policy (draft-ietf-httpapi-ratelimit-headers): the per-second
    // policy resets in under a second, so a `t` of 60 belongs to `rpm`.
    assert_eq!(field, RateLimitField::new("rpm", 0, 60));
}
