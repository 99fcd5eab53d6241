//! Tombstones left by handlers, removed by the writer once they expire.

use super::*;

#[tokio::test(start_paused = true)]
async fn the_writer_removes_tombstones_left_by_handlers_once_they_expire() {
    let clock = ManualClock::new(T0);
    let tombstones = MemoryTombstones::new(DAY);
    let sink = MemoryAuditSink::new();
    let config = AuditLogConfig::new()
        .with_tombstones(tombstones.clone())
        .with_clock(clock.clone())
        .with_maintenance_every(MAINTENANCE);
    let log = AuditLog::start(sink.clone(), config).unwrap();

    // A handler deleting a memory leaves a tombstone through the extension it is handed.
    let handler_clock = clock.clone();
    let inner = service_fn(move |request: Request<String>| {
        let clock = handler_clock.clone();
        async move {
            let id = request.uri().path().rsplit('/').next().unwrap().to_owned();
            let Some(tombstones) = request.extensions().get::<MemoryTombstones>().cloned() else {
                let mut response = Response::new(Full::new(Bytes::from_static(b"no tombstones")));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return Ok::<_, Infallible>(response);
            };
            tombstones
                .leave(TombstoneKind::Memory, &id, clock.now())
                .await
                .unwrap();
            Ok(Response::new(Full::new(Bytes::new())))
        }
    });
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .with_tombstones(tombstones.clone())
        .layer(inner);
    for id in ["mem_1", "mem_2"] {
        let path = format!("/v1/memories/{id}");
        let response = service
            .clone()
            .oneshot(request(Method::DELETE, &path))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(tombstones.len(), 2);
    assert!(
        tombstones
            .contains(TombstoneKind::Memory, "mem_1", clock.now())
            .await
            .unwrap()
    );

    // A second short of a day: the maintenance run keeps them.
    clock.advance(DAY - Duration::from_secs(1));
    elapse(MAINTENANCE + Duration::from_secs(1)).await;
    log.flush().await;
    assert_eq!(tombstones.len(), 2);

    // Past a day: the next run removes them, with no call from the test.
    clock.advance(Duration::from_secs(2));
    elapse(MAINTENANCE).await;
    log.flush().await;
    assert_eq!(tombstones.len(), 0);
    assert_eq!(sink.len(), 2);
}
