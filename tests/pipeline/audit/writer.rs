//! The writer: a failing sink retried without loss while `/health` says degraded, back-pressure
//! on a full queue, and flush on shutdown.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_failing_sink_degrades_health_and_loses_nothing_once_it_recovers() {
    const REQUESTS: usize = 20;
    let dir = TempDir::new("failing");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let clock = ManualClock::new(T0);
    let log = log_on(&sink, &clock);
    let check = log.health_check();
    assert_eq!(check.name(), "audit");
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new().with_check(log.health_check()))
        .stage(AuditRecordLayer::new(log.clone()).with_clock(clock.clone()))
        .into_layer();
    let service = ServiceBuilder::new().layer(pipeline).service(ok_service());
    let probe = || async { send(service.clone(), get("/health")).await.json() };
    assert_eq!(probe().await, serde_json::json!({"status": "ok"}));

    // Appending to today's segment fails: a directory has its name.
    let blocker = dir.path().join(segment_name(T0));
    fs::create_dir(&blocker).unwrap();

    let mut answered = Vec::new();
    for i in 0..REQUESTS {
        let reply = send(service.clone(), get(&format!("/v1/memories/{i}"))).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.text(), "inner");
        answered.push(reply.header("x-request-id").to_owned());
        if i == 0 {
            // Let the writer try the first event and fail.
            for _ in 0..100 {
                if log.stats().sink_failures > 0 {
                    break;
                }
                elapse(Duration::from_millis(10)).await;
            }
        }
    }
    assert!(log.stats().sink_failures > 0, "{:?}", log.stats());
    elapse(Duration::from_secs(30)).await; // several retries, all failing
    let stats = log.stats();
    assert!(stats.sink_failures > 1, "{stats:?}");
    assert_eq!(stats.written, 0);
    assert_eq!(stats.dropped, 0);
    assert!(matches!(check.check().await, CheckStatus::Degraded(_)));
    let report = probe().await;
    assert_eq!(report["status"], "degraded", "{report}");
    assert!(report["checks"]["audit"].is_string(), "{report}");
    assert_ne!(report["checks"]["audit"], "ok", "{report}");

    fs::remove_dir(&blocker).unwrap();
    log.flush().await; // waits out the back-off, then writes everything queued
    let lines = sink.read_lines().unwrap();
    assert_eq!(lines.len(), REQUESTS);
    assert_verifies(&lines, log.head());
    let logged: Vec<String> = parsed(&lines)
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, answered, "every event written once, in order");
    let stats = log.stats();
    assert_eq!(stats.written, REQUESTS as u64);
    assert_eq!(stats.dropped, 0);
    assert_eq!(check.check().await, CheckStatus::Ok);
    assert_eq!(probe().await, serde_json::json!({"status": "ok"}));
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_writes_a_batch_that_spans_midnight_once() {
    let dir = TempDir::new("midnight");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let before_midnight = Timestamp::parse_rfc3339("2027-01-15T23:59:59Z").unwrap();
    let clock = ManualClock::new(before_midnight);
    let log = log_on(&sink, &clock);
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    // The new day's segment cannot be created; the old day's still takes appends.
    let blocker = dir.path().join("audit-2027-01-16.jsonl");
    fs::create_dir(&blocker).unwrap();

    // Both events go to the writer in one batch: 23:59:59 and 00:00:01.
    service
        .clone()
        .oneshot(get("/v1/memories/1"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(2));
    service
        .clone()
        .oneshot(get("/v1/memories/2"))
        .await
        .unwrap();
    elapse(Duration::from_secs(3)).await; // a few retries of that batch
    assert!(log.stats().sink_failures > 1, "{:?}", log.stats());

    fs::remove_dir(&blocker).unwrap();
    log.flush().await;
    let lines = sink.read_lines().unwrap();
    assert_eq!(lines.len(), 2, "each event written once: {lines:#?}");
    assert_verifies(&lines, log.head());
}

// ----- 5. back-pressure ----------------------------------------------------------------------

#[tokio::test]
async fn a_full_queue_makes_requests_wait_and_loses_nothing() {
    const WAITING: usize = 8;
    let (sink, mut entered) = GatedSink::new();
    let _open_on_failure = OpenOnDrop(Arc::clone(&sink.gate));
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new().with_queue_capacity(1)).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());

    // The first event is taken by the writer, which then blocks in the sink.
    service
        .clone()
        .oneshot(get("/v1/memories/0"))
        .await
        .unwrap();
    entered.recv().await.unwrap();

    // One more fills the queue; the rest wait for room with their responses held back.
    let mut tasks = Vec::new();
    for i in 1..=WAITING + 1 {
        let service = service.clone();
        tasks.push(tokio::spawn(async move {
            service
                .oneshot(get(&format!("/v1/memories/{i}")))
                .await
                .unwrap()
        }));
    }
    yield_until("requests wait for room", || {
        log.stats().waited_for_room == WAITING as u64
    })
    .await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let finished = tasks.iter().filter(|t| t.is_finished()).count();
    assert_eq!(
        finished, 1,
        "only the request that found room has its response"
    );
    assert_eq!(log.stats().written, 0);

    sink.gate.open();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    log.flush().await;
    let lines = sink.lines.lines();
    assert_eq!(lines.len(), WAITING + 2);
    assert_verifies(&lines, log.head());
    let stats = log.stats();
    assert_eq!(stats.waited_for_room, WAITING as u64);
    assert_eq!(stats.queued, (WAITING + 2) as u64);
    assert_eq!(stats.written, (WAITING + 2) as u64);
    assert_eq!(stats.dropped, 0);
}

/// An operator's event (`AuditLog::record`) waits for room in a full queue like a request, but
/// is no request held up by back-pressure: `waited_for_room` stays 0.
#[tokio::test]
async fn an_operator_event_waiting_for_room_is_not_counted_as_a_request_held_up() {
    let (sink, mut entered) = GatedSink::new();
    let _open_on_failure = OpenOnDrop(Arc::clone(&sink.gate));
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new().with_queue_capacity(1)).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());
    service
        .clone()
        .oneshot(get("/v1/memories/0"))
        .await
        .unwrap();
    entered.recv().await.unwrap();
    // The queue is full now.
    service.oneshot(get("/v1/memories/1")).await.unwrap();
    let event = memorysync_pipeline::audit::AuditEvent {
        ts: Timestamp::from_unix_secs(1_800_000_000),
        request_id: "rec_1".to_owned(),
        method: "RECONCILE".to_owned(),
        path: "/config".to_owned(),
        status: 200,
        outcome: memorysync_pipeline::audit::Outcome::Allowed,
        key_id: None,
        project: None,
        environment: None,
        client_ip: None,
        user_agent: None,
        latency_us: 0,
        detail: Some("config_version=1".to_owned()),
    };
    let recording = tokio::spawn({
        let log = log.clone();
        async move { log.record(event).await }
    });
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!recording.is_finished(), "the event waits for room");
    sink.gate.open();
    recording.await.unwrap();
    log.flush().await;
    let stats = log.stats();
    assert_eq!(stats.waited_for_room, 0, "{stats:?}");
    assert_eq!((stats.queued, stats.written), (3, 3), "{stats:?}");
}

// ----- 6. flush on shutdown ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flush_on_shutdown_leaves_every_answered_request_in_the_sink() {
    const REQUESTS: usize = 5_000;
    let sink = MemoryAuditSink::new();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());
    let mut tasks = JoinSet::new();
    for i in 0..REQUESTS {
        let service = service.clone();
        tasks.spawn(async move {
            let response = service
                .oneshot(get(&format!("/v1/memories/{i}")))
                .await
                .unwrap();
            response.headers()[X_REQUEST_ID]
                .to_str()
                .unwrap()
                .to_owned()
        });
    }
    let mut answered = HashSet::new();
    while let Some(id) = tasks.join_next().await {
        answered.insert(id.unwrap());
    }
    // Shutdown: the server stops taking requests, then flushes the log.
    drop(service);
    log.flush().await;
    assert_eq!(sink.len(), REQUESTS);
    let logged: HashSet<String> = parsed(&sink.lines())
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, answered);
    assert_eq!(log.stats().written, REQUESTS as u64);
    assert_eq!(log.head().seq, REQUESTS as u64);
}

#[tokio::test]
async fn flush_waits_until_the_sink_has_taken_every_queued_event() {
    const REQUESTS: usize = 50;
    let (sink, mut entered) = GatedSink::new();
    let _open_on_failure = OpenOnDrop(Arc::clone(&sink.gate));
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let service = AuditRecordLayer::new(log.clone()).layer(ok_service());
    for i in 0..REQUESTS {
        let response = service
            .clone()
            .oneshot(get(&format!("/v1/memories/{i}")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let flushing = tokio::spawn({
        let log = log.clone();
        async move { log.flush().await }
    });
    entered.recv().await.unwrap();
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !flushing.is_finished(),
        "flush returned before the sink wrote"
    );
    assert_eq!(sink.lines.len(), 0);

    sink.gate.open();
    flushing.await.unwrap();
    assert_eq!(sink.lines.len(), REQUESTS);
    assert_verifies(&sink.lines.lines(), log.head());
}
