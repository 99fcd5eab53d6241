//! The outcome of every rejection of one pipeline, and who called.

use super::*;

/// The whole pipeline over the fixture's store and clock, recording into `log`; the inner
/// service answers 500 on `/v1/fail`.
fn audited_pipeline(
    fixture: &Fixture,
    log: &AuditLog,
    plans: QuotaPlans,
) -> impl Service<
    Request<String>,
    Response = Response<impl http_body::Body<Data = Bytes, Error: std::fmt::Debug>>,
    Error = Infallible,
> + Clone {
    let pipeline = PipelineBuilder::new()
        .stage(AuditRecordLayer::new(log.clone()).with_clock(fixture.clock.clone()))
        .stage(fixture.auth_layer())
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new().with_clock(fixture.clock.clone()))
        .stage(QuotaDegradeLayer::new(plans).with_clock(fixture.clock.clone()))
        .into_layer();
    let inner = service_fn(|request: Request<String>| async move {
        let status = if request.uri().path() == "/v1/fail" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        let mut response = Response::new(Full::new(Bytes::from_static(b"inner")));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    });
    ServiceBuilder::new().layer(pipeline).service(inner)
}

/// A call from 203.0.113.7 with `key` in `X-API-Key`, `project` in `X-Project-ID` and
/// `request_id` in `X-Request-Id`, each when given.
fn call(
    method: Method,
    path: &str,
    key: Option<&str>,
    project: Option<&str>,
    request_id: Option<&str>,
) -> Request<String> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .extension(ClientAddr(SocketAddr::from(([203, 0, 113, 7], 40_000))));
    for (name, value) in [
        ("x-api-key", key),
        ("x-project-id", project),
        ("x-request-id", request_id),
    ] {
        if let Some(value) = value {
            builder = builder.header(name, value);
        }
    }
    builder.body(String::new()).unwrap()
}

/// One call of the outcomes case, and what its response and its event must say.
struct Case {
    what: &'static str,
    request: Request<String>,
    status: u16,
    outcome: &'static str,
    /// The key id of an authenticated call; `None` when the call was not authenticated.
    key_id: Option<&'static str>,
    /// The well-formed `X-Request-Id` sent, which must be kept.
    kept_id: Option<&'static str>,
}

#[tokio::test]
async fn each_rejection_kind_is_recorded_with_its_outcome_and_who_called() {
    let fixture = Fixture::new().await;
    let revoked = ApiKey::generate(Environment::Development).unwrap();
    let record = KeyRecord::new(
        "key_revoked",
        revoked.hash(),
        PROJECT,
        Environment::Development,
    );
    fixture.store.insert(record, T0).await.unwrap();
    fixture.store.revoke("key_revoked", T0).await.unwrap();
    let limited = ApiKey::generate(Environment::Development).unwrap();
    let record = KeyRecord::new(
        "key_limited",
        limited.hash(),
        PROJECT,
        Environment::Development,
    )
    .with_limits(Some(1), None);
    fixture.store.insert(record, T0).await.unwrap();

    let sink = MemoryAuditSink::new();
    let config = AuditLogConfig::new().with_clock(fixture.clock.clone());
    let log = AuditLog::start(sink.clone(), config).unwrap();
    // One add a month for the project: the second add is degraded.
    let plans = QuotaPlans::new().with_plan(PROJECT, Plan::new(1, 1_000));
    let service = audited_pipeline(&fixture, &log, plans);

    let (key, revoked, limited) = (
        Some(fixture.secret()),
        Some(revoked.expose_secret()),
        Some(limited.expose_secret()),
    );
    let project = Some(PROJECT);
    let long_id = "r".repeat(300);
    let case = |what, request, status, outcome, key_id| Case {
        what,
        request,
        status,
        outcome,
        key_id,
        kept_id: None,
    };
    let cases = [
        Case {
            kept_id: Some("abc-123"),
            ..case(
                "allowed, with its own request id",
                call(Method::GET, "/v1/memories", key, project, Some("abc-123")),
                200,
                "allowed",
                Some(KEY_ID),
            )
        },
        case(
            "no key",
            call(Method::GET, "/v1/memories", None, project, None),
            401,
            "unauthenticated",
            None,
        ),
        case(
            "a revoked key",
            call(Method::GET, "/v1/memories", revoked, project, None),
            401,
            "unauthenticated",
            None,
        ),
        case(
            "another project",
            call(Method::GET, "/v1/memories", key, Some("proj_other"), None),
            403,
            "forbidden",
            Some(KEY_ID),
        ),
        case(
            "no project id, a 300-character request id",
            call(Method::GET, "/v1/memories", key, None, Some(&long_id)),
            400,
            "forbidden",
            Some(KEY_ID),
        ),
        case(
            "the limited key's first call",
            call(Method::GET, "/v1/memories", limited, project, None),
            200,
            "allowed",
            Some("key_limited"),
        ),
        case(
            "the limited key's second call in the second, a request id with a space",
            call(
                Method::GET,
                "/v1/memories",
                limited,
                project,
                Some("has space"),
            ),
            429,
            "rate_limited",
            Some("key_limited"),
        ),
        case(
            "the month's one add",
            call(Method::POST, "/v1/memories", key, project, None),
            200,
            "allowed",
            Some(KEY_ID),
        ),
        case(
            "an add past the quota",
            call(Method::POST, "/v1/memories", key, project, None),
            200,
            "degraded",
            Some(KEY_ID),
        ),
        case(
            "a 500 from the inner service",
            call(Method::GET, "/v1/fail", key, project, None),
            500,
            "error",
            Some(KEY_ID),
        ),
    ];

    let mut answered = Vec::new();
    for case in cases {
        let (method, path) = (
            case.request.method().clone(),
            case.request.uri().to_string(),
        );
        let reply: Reply = send(service.clone(), case.request).await;
        assert_eq!(reply.status, case.status, "{}: {reply:?}", case.what);
        let request_id = reply.header("x-request-id").to_owned();
        match case.kept_id {
            Some(sent) => assert_eq!(request_id, sent, "{}: the id is kept", case.what),
            None => assert!(
                request_id.starts_with("req_"),
                "{}: {request_id}",
                case.what
            ),
        }
        answered.push((
            case.what,
            method,
            path,
            case.status,
            case.outcome,
            case.key_id,
            request_id,
        ));
    }
    log.flush().await;

    let lines = sink.lines();
    assert_verifies(&lines, log.head());
    let events = parsed(&lines);
    assert_eq!(events.len(), answered.len());
    let mut seen_ids = HashSet::new();
    for (event, (what, method, path, status, outcome, key_id, request_id)) in
        events.iter().zip(answered)
    {
        assert_eq!(event["method"], method.as_str(), "{what}: {event}");
        assert_eq!(event["path"], path, "{what}: {event}");
        assert_eq!(event["status"], status, "{what}: {event}");
        assert_eq!(event["outcome"], outcome, "{what}: {event}");
        assert_eq!(event["request_id"], request_id.as_str(), "{what}: {event}");
        assert!(seen_ids.insert(request_id), "{what}: request id reused");
        assert_eq!(event["ts"], T0.to_rfc3339(), "{what}: {event}");
        assert_eq!(event["client_ip"], "203.0.113.7", "{what}: {event}");
        assert!(event["latency_us"].is_u64(), "{what}: {event}");
        match key_id {
            Some(id) => {
                assert_eq!(event["key_id"], id, "{what}: {event}");
                assert_eq!(event["project"], PROJECT, "{what}: {event}");
                assert_eq!(event["environment"], "development", "{what}: {event}");
            }
            None => {
                for field in ["key_id", "project", "environment"] {
                    assert!(event[field].is_null(), "{what}: `{field}` set in {event}");
                }
            }
        }
    }
    assert_eq!(log.stats().written, events.len() as u64);
}
