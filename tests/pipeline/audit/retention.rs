//! Retention: to the second in memory, by whole days in JSON Lines.

use super::*;

#[tokio::test(start_paused = true)]
async fn retention_purges_from_memory_exactly_the_events_older_than_the_cutoff() {
    let clock = ManualClock::new(ninety_days_before_t0(-1));
    let sink = MemoryAuditSink::new();
    let config = AuditLogConfig::new()
        .with_retention(NINETY_DAYS)
        .with_maintenance_every(MAINTENANCE)
        .with_clock(clock.clone());
    let log = AuditLog::start(sink.clone(), config).unwrap();
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    for offset in [-1, 0, 1] {
        clock.set(ninety_days_before_t0(offset));
        service.clone().oneshot(get("/v1/memories")).await.unwrap();
    }
    log.flush().await;
    assert_eq!(sink.len(), 3);

    // Time has come, but the interval has not elapsed: nothing is purged yet.
    clock.set(T0);
    log.flush().await;
    assert_eq!(sink.len(), 3);
    assert_eq!(log.stats().purged, 0);

    elapse(MAINTENANCE + Duration::from_secs(1)).await;
    log.flush().await;
    let lines = sink.lines();
    let kept: Vec<String> = parsed(&lines)
        .iter()
        .map(|e| e["ts"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kept,
        [ninety_days_before_t0(0), ninety_days_before_t0(1)].map(Timestamp::to_rfc3339),
        "the event at the cutoff is kept, the one a second before it purged"
    );
    assert_eq!(log.stats().purged, 1);
    assert_verifies(&lines, log.head());

    // The next run finds nothing more to purge.
    elapse(MAINTENANCE).await;
    log.flush().await;
    assert_eq!(sink.len(), 2);
    assert_eq!(log.stats().purged, 1);
}

#[tokio::test(start_paused = true)]
async fn retention_deletes_the_json_lines_segments_of_whole_days_before_the_cutoff_day() {
    let dir = TempDir::new("retention");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let cutoff = ninety_days_before_t0(0); // 2026-10-17T08:00:00Z
    assert_eq!(cutoff.to_rfc3339(), "2026-10-17T08:00:00Z");
    let utc = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
    let times = [
        utc("2026-10-15T12:00:00Z"),
        utc("2026-10-16T23:59:59Z"),
        utc("2026-10-17T00:00:00Z"), // the cutoff's day, before the cutoff
        utc("2026-10-17T08:00:01Z"),
        T0,
    ];
    let clock = ManualClock::new(times[0]);
    let config = AuditLogConfig::new()
        .with_retention(NINETY_DAYS)
        .with_maintenance_every(MAINTENANCE)
        .with_clock(clock.clone());
    let log = AuditLog::start(sink.clone(), config).unwrap();
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    for ts in times {
        clock.set(ts);
        service.clone().oneshot(get("/v1/memories")).await.unwrap();
        // One batch per event, so each lands on its own day's segment by itself.
        log.flush().await;
    }
    let names = |sink: &JsonLinesSink| -> Vec<String> {
        sink.segments()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&sink),
        [
            "audit-2026-10-15.jsonl",
            "audit-2026-10-16.jsonl",
            "audit-2026-10-17.jsonl",
            "audit-2027-01-15.jsonl"
        ]
    );
    assert_eq!(log.stats().purged, 0);

    elapse(MAINTENANCE + Duration::from_secs(1)).await;
    log.flush().await;
    assert_eq!(
        names(&sink),
        ["audit-2026-10-17.jsonl", "audit-2027-01-15.jsonl"],
        "the cutoff day's segment is kept whole"
    );
    assert_eq!(log.stats().purged, 2);
    let lines = sink.read_lines().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(parsed(&lines)[0]["ts"], times[2].to_rfc3339());
    assert_verifies(&lines, log.head());
}
