//! The chain: one that verifies to the head under 100,000 concurrent requests, and `verify`
//! finding what was done to a JSON Lines segment.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_thousand_concurrent_requests_leave_one_chain_that_verifies_to_the_head() {
    const REQUESTS: usize = 100_000;
    let sink = MemoryAuditSink::with_capacity(REQUESTS);
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
            assert_eq!(response.status(), StatusCode::OK);
            response.headers()[X_REQUEST_ID]
                .to_str()
                .unwrap()
                .to_owned()
        });
    }
    let mut answered = HashSet::with_capacity(REQUESTS);
    while let Some(id) = tasks.join_next().await {
        assert!(answered.insert(id.unwrap()), "a request id was given twice");
    }
    log.flush().await;

    let lines = sink.lines();
    assert_eq!(lines.len(), REQUESTS);
    assert_verifies(&lines, log.head());
    assert_eq!(log.head().seq, REQUESTS as u64);

    // Generated ids need no JSON escaping: read them straight from the text.
    let logged: HashSet<String> = lines
        .iter()
        .map(|l| {
            let rest = &l[l.find(r#""request_id":""#).unwrap() + 14..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect();
    assert_eq!(
        logged, answered,
        "each response's request id is logged once"
    );

    let stats = log.stats();
    assert_eq!(stats.queued, REQUESTS as u64);
    assert_eq!(stats.written, REQUESTS as u64);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.sink_failures, 0);
}

// ----- 2. tampering with a JSON Lines segment -------------------------------------------------

#[tokio::test]
async fn verify_finds_an_edited_a_removed_and_a_cut_off_line_in_a_json_lines_segment() {
    let dir = TempDir::new("tamper");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let clock = ManualClock::new(T0);
    let log = log_on(&sink, &clock);
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    for i in 1..=5 {
        let request = Request::get(format!("/v1/memories/{i}"))
            .header("x-request-id", format!("req-{i}"))
            .body(String::new())
            .unwrap();
        service.clone().oneshot(request).await.unwrap();
        clock.advance(Duration::from_secs(1));
    }
    log.flush().await;
    let head = log.head();

    let segments = sink.segments().unwrap();
    assert_eq!(segments.len(), 1, "{segments:?}");
    assert!(segments[0].ends_with(segment_name(T0)), "{segments:?}");
    let segment = &segments[0];
    let original = fs::read_to_string(segment).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_verifies(&sink.read_lines().unwrap(), head);

    let rewrite = |lines: &[&str]| {
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(segment, text).unwrap();
        sink.read_lines().unwrap()
    };

    // An edit of line 2 is found at line 3, whose `prev` no longer matches.
    let mut edited = lines.clone();
    let changed = lines[1].replace(r#""request_id":"req-2""#, r#""request_id":"req-X""#);
    assert_ne!(changed, lines[1]);
    edited[1] = &changed;
    let read = rewrite(&edited);
    let expected = ChainBreak {
        line: 3,
        problem: BreakKind::Edited,
    };
    assert_eq!(
        verify(read.iter().map(String::as_str), None),
        Err(expected.clone())
    );
    assert_eq!(
        verify(read.iter().map(String::as_str), Some(head)),
        Err(expected)
    );

    // A removed line 3: the line now third does not follow the second.
    let mut removed = lines.clone();
    removed.remove(2);
    let read = rewrite(&removed);
    assert_eq!(
        verify(read.iter().map(String::as_str), Some(head)),
        Err(ChainBreak {
            line: 3,
            problem: BreakKind::Gap
        })
    );

    // The last line cut off: what is left is a chain, but not up to the head the log recorded.
    rewrite(&lines);
    let without_last = original.len() - lines[4].len() - 1;
    let file = fs::OpenOptions::new().write(true).open(segment).unwrap();
    file.set_len(without_last as u64).unwrap();
    drop(file);
    let read = sink.read_lines().unwrap();
    assert_eq!(read.len(), 4);
    assert_eq!(verify(read.iter().map(String::as_str), None), Ok(4));
    assert_eq!(
        verify(read.iter().map(String::as_str), Some(head))
            .unwrap_err()
            .problem,
        BreakKind::HeadMismatch
    );
}
