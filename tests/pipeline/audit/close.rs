//! Closing the log within a deadline while the sink fails: the writer stops retrying and hands
//! back the events it could not write, chained after what the sink holds.

use super::*;

/// A log in JSON Lines in a directory of its own, and a service that records into it.
fn logged_service(
    name: &str,
) -> (
    TempDir,
    AuditLog,
    impl Service<Request<String>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static,
) {
    let dir = TempDir::new(name);
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let clock = ManualClock::new(T0);
    let log = log_on(&sink, &clock);
    let service = ServiceBuilder::new()
        .layer(AuditRecordLayer::new(log.clone()).with_clock(clock))
        .service(ok_service());
    (dir, log, service)
}

#[tokio::test(start_paused = true)]
async fn flush_on_shutdown_with_the_audit_dir_removed_returns_within_the_deadline() {
    let (dir, log, service) = logged_service("closing");
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

/// Requests keep coming while the log closes: whatever the writer holds when the stop comes
/// (a batch gathering, a batch just received) is written or handed back, never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_under_traffic_hands_back_what_it_did_not_write() {
    for round in 0..40 {
        let (_dir, log, service) = logged_service("closing-under-traffic");
        let mut senders = JoinSet::new();
        for sender in 0..2 {
            let service = service.clone();
            senders.spawn(async move {
                for i in 0..200 {
                    let _ = send(service.clone(), get(&format!("/v1/memories/{sender}-{i}"))).await;
                }
            });
        }
        // Let the traffic start, then close in the middle of it.
        while log.stats().queued < 20 {
            tokio::task::yield_now().await;
        }
        let unwritten = log.close(Duration::from_secs(5)).await;
        assert_eq!(
            unwritten.lost,
            0,
            "round {round}: {unwritten:?} {:?}",
            log.stats()
        );
        senders.join_all().await;
        let stats = log.stats();
        assert_eq!(
            stats.queued,
            stats.written + unwritten.lines.len() as u64,
            "round {round}: {stats:?}"
        );
    }
}
