//! What never reaches the log: keys, query strings, oversized or non-UTF-8 user agents.

use super::*;

/// Sends the key in every place a client might (Authorization, X-API-Key and the query), with an
/// oversized and a non-UTF-8 user agent, through a pipeline recording into `log`.
async fn send_secrets(fixture: &Fixture, log: &AuditLog) {
    let pipeline = PipelineBuilder::new()
        .stage(AuditRecordLayer::new(log.clone()).with_clock(fixture.clock.clone()))
        .stage(fixture.auth_layer())
        .stage(ProjectScopeLayer::new())
        .into_layer();
    let service = ServiceBuilder::new().layer(pipeline).service(ok_service());
    let secret = fixture.secret();
    let keyed = |path: &str, user_agent: HeaderValue| {
        Request::get(path)
            .header("authorization", fixture.bearer())
            .header("x-api-key", secret)
            .header("x-project-id", PROJECT)
            .header("user-agent", user_agent)
            .body(String::new())
            .unwrap()
    };
    let with_query = format!("/v1/memories?api_key={secret}&q=x");
    let long_agent = HeaderValue::from_bytes(&vec![b'a'; 64 * 1024]).unwrap();
    let binary_agent = HeaderValue::from_bytes(b"probe/1.0 \xff\xfe").unwrap();
    let requests = [
        keyed(&with_query, HeaderValue::from_static("curl/8.0")),
        keyed(&with_query, long_agent),
        keyed("/v1/memories", binary_agent),
        // The key in the query only: refused, and still not logged.
        get(&with_query),
    ];
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(send(service.clone(), request).await.status.as_u16());
        }
        statuses
    };
    assert_eq!(statuses, [200, 200, 200, 401]);
    log.flush().await;
}

/// The events of `send_secrets`: paths without queries, user agents cut or escaped, no key and
/// no hash of the fixture's key.
#[track_caller]
fn assert_no_secrets(lines: &[String], head: ChainHead, fixture: &Fixture) {
    assert_eq!(lines.len(), 4);
    assert_verifies(lines, head);
    let hash = fixture.key.hash().to_hex();
    for line in lines {
        assert!(!line.contains("msk_"), "a key in the log: {line}");
        assert!(!line.contains(&hash), "the key's hash in the log: {line}");
        assert!(
            !line.contains("api_key"),
            "a query string in the log: {line}"
        );
        assert!(!line.contains('?'), "a query string in the log: {line}");
    }
    let events = parsed(lines);
    for event in &events {
        assert_eq!(event["path"], "/v1/memories", "{event}");
    }
    assert_eq!(events[0]["user_agent"], "curl/8.0");
    assert_eq!(
        events[0]["key_id"], KEY_ID,
        "the key id, not the key, is recorded"
    );

    let long = events[1]["user_agent"].as_str().unwrap();
    assert!(
        long.ends_with('…'),
        "not marked as cut: {}",
        &long[long.len() - 10..]
    );
    assert!(
        long.len() <= MAX_USER_AGENT + '…'.len_utf8(),
        "{} bytes",
        long.len()
    );
    assert!(
        long.len() >= MAX_USER_AGENT - 4,
        "cut too short: {} bytes",
        long.len()
    );
    assert!(long.trim_end_matches('…').bytes().all(|b| b == b'a'));

    assert_eq!(events[2]["user_agent"], r"probe/1.0 \xff\xfe");
    assert_eq!(events[3]["outcome"], "unauthenticated");
    assert!(events[3]["user_agent"].is_null());
}

#[tokio::test]
async fn keys_and_query_strings_never_reach_the_memory_sink_and_user_agents_are_cleaned() {
    let fixture = Fixture::new().await;
    let sink = MemoryAuditSink::new();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    send_secrets(&fixture, &log).await;
    assert_no_secrets(&sink.lines(), log.head(), &fixture);
}

#[tokio::test]
async fn keys_and_query_strings_never_reach_the_json_lines_files() {
    let fixture = Fixture::new().await;
    let dir = TempDir::new("secrets");
    let sink = JsonLinesSink::new(dir.path()).unwrap();
    let log = AuditLog::start(sink.clone(), AuditLogConfig::new()).unwrap();
    send_secrets(&fixture, &log).await;
    assert_no_secrets(&sink.read_lines().unwrap(), log.head(), &fixture);
    for segment in sink.segments().unwrap() {
        let bytes = fs::read(&segment).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"msk_"),
            "a key in {}",
            segment.display()
        );
        assert!(
            std::str::from_utf8(&bytes).is_ok(),
            "the segment is not UTF-8"
        );
    }
}
