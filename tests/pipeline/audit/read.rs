//! The audit log read back (`AuditSource`): the shared suite (`tests/common/audit_read/`) on
//! the in-memory log and on JSON Lines segments across several days, then what is particular to
//! each: a tampered segment line found by `verify`, a cursor into a segment rewritten or removed
//! between pages, a torn tail, a missing directory, the scan bound of one call.

use std::io;

use memorysync_pipeline::audit::{
    AuditQuery, AuditReadError, AuditSource, AuditSourceKind, BreakKind, SCAN_LIMIT,
};

use super::*;
use crate::common::audit_read::{self as suite, EVENTS, seqs};

/// A JSON Lines log of the suite's events, and its source.
async fn json_lines(case: &str) -> (TempDir, AuditLog, ManualClock, AuditSource) {
    let dir = TempDir::new(case);
    let log = AuditLog::start(
        JsonLinesSink::new(dir.path()).unwrap(),
        AuditLogConfig::new(),
    )
    .unwrap();
    let clock = suite::write_events(&log).await;
    let source = log.source();
    assert_eq!(source.kind(), AuditSourceKind::JsonLines);
    (dir, log, clock, source)
}

/// The in-memory log of the suite's events, and its source.
async fn in_memory() -> (AuditLog, ManualClock, AuditSource) {
    let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap();
    let clock = suite::write_events(&log).await;
    let source = log.source();
    assert_eq!(source.kind(), AuditSourceKind::Memory);
    (log, clock, source)
}

fn segments(dir: &TempDir) -> Vec<PathBuf> {
    JsonLinesSink::reader(dir.path()).segments().unwrap()
}

#[tokio::test]
async fn the_suite_on_json_lines_segments_across_several_days() {
    let (dir, log, clock, source) = json_lines("read-suite").await;
    assert!(segments(&dir).len() >= 5, "{:?}", segments(&dir));
    let (_other_log, _, memory) = in_memory().await;
    suite::filters_select_their_lines_newest_first(&source);
    suite::bad_input_is_a_typed_error(&source, &memory);
    suite::an_intact_log_verifies(&source, &log, true);
    suite::pages_go_on_while_lines_are_appended(&source, &log, &clock).await;
    suite::an_intact_log_verifies(&source, &log, true);
    // Off the async threads, the same answers.
    let page = source.query_async(AuditQuery::new()).await.unwrap();
    assert_eq!(
        page.items.len(),
        AuditQuery::DEFAULT_LIMIT.min(log.head().seq as usize)
    );
    assert!(source.verify_async().await.unwrap().ok);
}

#[tokio::test]
async fn the_suite_on_the_in_memory_log() {
    let (log, clock, source) = in_memory().await;
    let (_dir, _other_log, _, files) = json_lines("read-other").await;
    suite::filters_select_their_lines_newest_first(&source);
    suite::bad_input_is_a_typed_error(&source, &files);
    suite::an_intact_log_verifies(&source, &log, false);
    suite::pages_go_on_while_lines_are_appended(&source, &log, &clock).await;
    suite::an_intact_log_verifies(&source, &log, false);
}

#[tokio::test]
async fn empty_logs_are_empty_pages_and_a_missing_directory_is_an_io_error() {
    let log = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap();
    suite::an_empty_log_is_an_empty_page_and_verifies(&log.source());
    let dir = TempDir::new("read-empty");
    suite::an_empty_log_is_an_empty_page_and_verifies(&AuditSource::JsonLines(dir.path().into()));

    let missing = AuditSource::JsonLines(dir.path().join("nowhere"));
    for refused in [
        missing.query(&AuditQuery::new()).unwrap_err(),
        missing.verify().unwrap_err(),
    ] {
        assert_eq!(refused.code(), "audit_log_unavailable");
        let AuditReadError::Io { context, source } = &refused else {
            panic!("{refused:?}");
        };
        assert!(
            context.starts_with("audit dir ") && context.ends_with("nowhere"),
            "{context}"
        );
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
    }
}

#[tokio::test]
async fn a_tampered_line_in_a_middle_segment_is_the_first_break() {
    let (dir, log, _clock, source) = json_lines("read-tamper").await;
    // Event 4 (seq 5) was recorded on the third day.
    let segment = segments(&dir)[2].clone();
    let text = fs::read_to_string(&segment).unwrap();
    assert!(text.contains("\"/v1/memories/4\""), "{text}");
    fs::write(
        &segment,
        text.replace("\"/v1/memories/4\"", "\"/v1/memories/X\""),
    )
    .unwrap();

    let report = source.verify().unwrap();
    assert!(!report.ok);
    assert_eq!(report.lines, EVENTS);
    let broken = report.first_break.clone().unwrap();
    assert_eq!(
        (broken.kind, broken.seq, broken.at.line),
        (BreakKind::Edited, Some(5), 5)
    );
    let name = segment.file_name().unwrap().to_string_lossy().into_owned();
    let in_segment = text
        .lines()
        .position(|l| l.contains("/v1/memories/4"))
        .unwrap()
        + 1;
    assert_eq!(broken.at.segment, Some(name.clone()));
    assert_eq!(broken.at.line_in_segment, Some(in_segment));
    assert_eq!(
        broken.at.to_string(),
        format!("line 5 ({name} line {in_segment})")
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["head"]["seq"], log.head().seq);
    assert_eq!(json["first_break"]["kind"], "edited");
    assert_eq!(json["first_break"]["seq"], 5);
    assert_eq!(json["first_break"]["segment"], name);
    assert_eq!(json["checkpoint"]["status"], "not_checked");
    // A query reads the line as it now is: checking it is the verification's business.
    let edited = AuditQuery {
        project: Some("proj_1".into()),
        ..AuditQuery::new()
    };
    let page = source.query(&edited).unwrap();
    assert!(
        page.items
            .iter()
            .any(|item| item["path"] == "/v1/memories/X")
    );
}

#[tokio::test]
async fn a_cursor_into_a_rewritten_segment_is_refused_and_one_into_a_removed_segment_goes_on() {
    let (dir, _log, _clock, source) = json_lines("read-cursor").await;
    let first = AuditQuery {
        limit: 1,
        ..AuditQuery::new()
    };
    let page = source.query(&first).unwrap();
    assert_eq!(seqs(&page), [EVENTS as u64]);
    let next = AuditQuery {
        cursor: page.next_cursor,
        ..first.clone()
    };

    // The newest segment rewritten one byte longer at its start: the cursor now points inside
    // a line.
    let newest = segments(&dir).pop().unwrap();
    let text = fs::read_to_string(&newest).unwrap();
    assert!(text.lines().count() >= 2, "{text}");
    fs::write(&newest, format!(" {text}")).unwrap();
    let refused = source.query(&next).unwrap_err();
    assert!(
        matches!(refused, AuditReadError::InvalidCursor(_)),
        "{refused:?}"
    );

    // Removed (as retention would): the older segments go on from their newest line.
    fs::remove_file(&newest).unwrap();
    let older = source.query(&next).unwrap();
    let older_newest = segments(&dir).pop().unwrap();
    let last_there: Value = serde_json::from_str(
        fs::read_to_string(&older_newest)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(older.items, [last_there]);
}

#[tokio::test]
async fn bytes_after_the_last_newline_are_not_yet_a_line() {
    let (dir, _log, _clock, source) = json_lines("read-torn").await;
    let newest = segments(&dir).pop().unwrap();
    let mut text = fs::read(&newest).unwrap();
    text.extend_from_slice(br#"{"seq":13,"ts":"2027-01-20T"#);
    fs::write(&newest, text).unwrap();
    let page = source.query(&AuditQuery::new()).unwrap();
    assert_eq!(seqs(&page)[0], EVENTS as u64);
    let report = source.verify().unwrap();
    assert!(report.ok, "{report:?}");
    assert!(report.torn_tail.is_some_and(|torn| torn.bytes == 27));
}

/// A filter that matches only the oldest of more lines than one call examines: the first call
/// answers an empty page with a cursor, the next finds the line.
#[tokio::test]
async fn one_call_examines_at_most_the_scan_limit() {
    let sink = MemoryAuditSink::with_capacity(SCAN_LIMIT + 10);
    let log = AuditLog::start(sink, AuditLogConfig::new()).unwrap();
    let clock = ManualClock::new(T0);
    let mut rare = suite::event(0, clock.now());
    rare.project = Some("proj_rare".into());
    log.record(rare).await;
    for n in 1..=SCAN_LIMIT + 4 {
        log.record(suite::event(n, clock.now())).await;
    }
    log.flush().await;
    let source = log.source();
    let query = AuditQuery {
        project: Some("proj_rare".into()),
        ..AuditQuery::new()
    };
    let first = source.query(&query).unwrap();
    assert!(first.items.is_empty());
    let cursor = first.next_cursor.expect("a cursor to go on");
    let second = source
        .query(&AuditQuery {
            cursor: Some(cursor),
            ..query
        })
        .unwrap();
    assert_eq!((seqs(&second), second.next_cursor), (vec![1], None));
}
