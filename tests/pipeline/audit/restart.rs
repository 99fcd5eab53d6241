//! The chain continued across a restart, and a call abandoned by its client still recorded.

use super::*;

/// Runs `events` requests through a new log on `dir` in a runtime of its own, flushes, and
/// shuts the runtime down; returns the head the log recorded, and the head it started from.
fn run_once(dir: &Path, clock: &ManualClock, events: usize) -> (ChainHead, ChainHead) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sink = JsonLinesSink::new(dir).unwrap();
        let log = AuditLog::start(sink, AuditLogConfig::new().with_clock(clock.clone())).unwrap();
        let started_at = log.head();
        let service = AuditRecordLayer::new(log.clone())
            .with_clock(clock.clone())
            .layer(ok_service());
        for i in 0..events {
            let response = service
                .clone()
                .oneshot(get(&format!("/v1/memories/{i}")))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            clock.advance(Duration::from_secs(1));
        }
        log.flush().await;
        (log.head(), started_at)
    })
}

#[test]
fn the_json_lines_chain_goes_on_across_a_restart() {
    let dir = TempDir::new("restart");
    let clock = ManualClock::new(at(0));
    let (first_head, started) = run_once(dir.path(), &clock, 3);
    assert_eq!(started, ChainHead::default());
    assert_eq!(first_head.seq, 3);

    // The process restarts the next day.
    clock.set(at(86_400));
    let (second_head, started) = run_once(dir.path(), &clock, 4);
    assert_eq!(
        started, first_head,
        "the new log continues from the file's last line"
    );
    assert_eq!(second_head.seq, 7);

    let sink = JsonLinesSink::new(dir.path()).unwrap();
    assert_eq!(sink.segments().unwrap().len(), 2);
    let lines = sink.read_lines().unwrap();
    let seqs: Vec<u64> = parsed(&lines)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    assert_verifies(&lines, second_head);
    assert_eq!(sink.head().unwrap(), second_head);
}

/// A call whose future is dropped before the inner service answers (the client went away) is
/// still recorded, as 499 `error`.
#[tokio::test]
async fn a_call_abandoned_by_its_client_is_still_recorded() {
    use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
    use tower::{Layer, Service, ServiceExt};

    let sink = MemoryAuditSink::new();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    let never = tower::service_fn(|_: http::Request<String>| async {
        std::future::pending::<Result<http::Response<String>, std::convert::Infallible>>().await
    });
    let mut service = AuditRecordLayer::new(log.clone()).layer(never);
    let request = http::Request::get("/v1/memories/search")
        .body(String::new())
        .unwrap();
    {
        let mut call = std::pin::pin!(service.ready().await.unwrap().call(request));
        // Polled once, then abandoned.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(std::future::Future::poll(call.as_mut(), &mut cx).is_pending());
    }
    log.flush().await;
    let lines = sink.lines();
    assert_eq!(lines.len(), 1);
    let event: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        (event["status"].as_u64(), event["outcome"].as_str()),
        (Some(499), Some("error"))
    );
    assert_eq!(event["path"], "/v1/memories/search");
}
