//! Closing the log within a deadline while the sink fails: the writer stops retrying and hands
//! back the events it could not write, chained after what the sink holds.

use super::*;

#[tokio::test(start_paused = true)]
async fn flush_on_shutdown_with_the_audit_dir_removed_returns_within_the_deadline() {
    let dir = TempDir::new("closing");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let clock = ManualClock::new(T0);
    let log = log_on(&sink, &clock);
    let service = ServiceBuilder::new()
        .layer(AuditRecordLayer::new(log.clone()).with_clock(clock))
        .service(ok_service());
    fs::remove_dir_all(dir.path()).unwrap();
    for i in 0..3 {
        let reply = send(service.clone(), get(&format!("/v1/memories/{i}"))).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let head = log.head();
    let started = tokio::time::Instant::now();
    let unwritten = log.close(Duration::from_secs(2)).await;
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(unwritten.lines.len(), 3, "{unwritten:?}");
    assert_eq!(unwritten.lost, 0);
    let lines = unwritten.lines.iter().map(String::as_str);
    assert_eq!(verify(lines, None), Ok(3));
    assert_eq!(head, ChainHead::default());
    // The writer has stopped: a later event is counted as lost, never silently.
    let _ = send(service.clone(), get("/v1/memories/late")).await;
    assert_eq!(log.stats().dropped, 1);
}
