//! One suite for reading an audit log back ([`AuditSource`]), run over every log a sink writes:
//! the in-memory log and JSON Lines segments (`tests/pipeline/audit/read.rs`) and the Redis
//! stream (`tests/redis_store/audit_read.rs`). Events are recorded ten hours apart on a
//! `ManualClock` that starts before midnight UTC, so a JSON Lines log spans several day
//! segments; each event's key, project and outcome follow from its number, so each case knows
//! which lines a filter selects.

use std::time::Duration;

use memorysync_pipeline::audit::{
    AuditEvent, AuditLog, AuditPage, AuditQuery, AuditReadError, AuditSource, Outcome,
};
use memorysync_pipeline::clock::{Clock, ManualClock, Timestamp};
use serde_json::Value;

/// 2027-01-15T23:00:00Z: an hour before midnight UTC.
pub(crate) const START: Timestamp = Timestamp::from_unix_millis(1_800_054_000_000);

/// Between two events: the tenth event is four days after the first.
pub(crate) const STEP: Duration = Duration::from_secs(10 * 3600);

/// How many events the suite writes before it reads.
pub(crate) const EVENTS: usize = 12;

/// The time of event `n` (0-based).
pub(crate) fn time_of(n: usize) -> Timestamp {
    START.saturating_add(STEP * u32::try_from(n).unwrap())
}

/// Event `n`: key `key_<n % 2>`, project `proj_<n % 3>`, outcome by `n % 4`.
pub(crate) fn event(n: usize, at: Timestamp) -> AuditEvent {
    let outcomes = [
        Outcome::Allowed,
        Outcome::Allowed,
        Outcome::RateLimited,
        Outcome::Forbidden,
    ];
    AuditEvent {
        ts: at,
        request_id: format!("req_{n}"),
        method: "GET".into(),
        path: format!("/v1/memories/{n}"),
        status: 200,
        outcome: outcomes[n % 4],
        key_id: Some(format!("key_{}", n % 2).into()),
        project: Some(format!("proj_{}", n % 3).into()),
        environment: None,
        client_ip: None,
        user_agent: None,
        latency_us: 10,
        detail: None,
    }
}

/// Events `numbers`, each at the clock's time, the clock moved on [`STEP`] after each; flushed.
pub(crate) async fn write(log: &AuditLog, clock: &ManualClock, numbers: std::ops::Range<usize>) {
    for n in numbers {
        log.record(event(n, clock.now())).await;
        clock.advance(STEP);
    }
    log.flush().await;
}

/// A fresh log's first [`EVENTS`] events, from [`START`]: event `n` is line `seq` n + 1.
pub(crate) async fn write_events(log: &AuditLog) -> ManualClock {
    let clock = ManualClock::new(START);
    write(log, &clock, 0..EVENTS).await;
    assert_eq!(log.head().seq, EVENTS as u64, "a fresh log");
    clock
}

pub(crate) fn seqs(page: &AuditPage) -> Vec<u64> {
    page.items
        .iter()
        .map(|item| item["seq"].as_u64().unwrap())
        .collect()
}

/// The `seq`s of the first events whose number passes `keep`, newest first.
fn expected(keep: impl Fn(usize) -> bool) -> Vec<u64> {
    (0..EVENTS)
        .rev()
        .filter(|n| keep(*n))
        .map(|n| n as u64 + 1)
        .collect()
}

fn query() -> AuditQuery {
    AuditQuery {
        limit: AuditQuery::MAX_LIMIT,
        ..AuditQuery::new()
    }
}

/// Every page of `query` from its first, following the cursors.
pub(crate) fn all_pages(source: &AuditSource, query: &AuditQuery) -> Vec<u64> {
    let mut query = query.clone();
    let mut seqs_read = Vec::new();
    for _ in 0..1_000 {
        let page = source.query(&query).unwrap();
        seqs_read.extend(seqs(&page));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return seqs_read,
        }
    }
    panic!("the cursors never ended");
}

/// Each filter alone, then together, selects exactly its lines, newest first.
pub(crate) fn filters_select_their_lines_newest_first(source: &AuditSource) {
    let all = source.query(&query()).unwrap();
    assert_eq!(seqs(&all), expected(|_| true));
    assert_eq!(all.next_cursor, None, "one page holds the whole log");
    let newest = &all.items[0];
    assert_eq!(newest["path"], format!("/v1/memories/{}", EVENTS - 1));
    assert_eq!(newest["ts"], time_of(EVENTS - 1).to_rfc3339());
    assert!(newest["prev"].as_str().is_some_and(|p| p.len() == 64));

    let by_key = AuditQuery {
        key_id: Some("key_1".into()),
        ..query()
    };
    assert_eq!(
        seqs(&source.query(&by_key).unwrap()),
        expected(|n| n % 2 == 1)
    );
    let by_project = AuditQuery {
        project: Some("proj_2".into()),
        ..query()
    };
    assert_eq!(
        seqs(&source.query(&by_project).unwrap()),
        expected(|n| n % 3 == 2)
    );
    let by_outcome = AuditQuery {
        outcome: Some(Outcome::RateLimited),
        ..query()
    };
    assert_eq!(
        seqs(&source.query(&by_outcome).unwrap()),
        expected(|n| n % 4 == 2)
    );
    let (from, to) = (time_of(3), time_of(8));
    let by_time = AuditQuery {
        from: Some(from),
        to: Some(to),
        ..query()
    };
    assert_eq!(
        seqs(&source.query(&by_time).unwrap()),
        expected(|n| (3..8).contains(&n))
    );
    let from_only = AuditQuery {
        from: Some(from.saturating_add(Duration::from_millis(1))),
        ..query()
    };
    assert_eq!(
        seqs(&source.query(&from_only).unwrap()),
        expected(|n| n > 3)
    );
    let to_only = AuditQuery {
        to: Some(to),
        ..query()
    };
    assert_eq!(seqs(&source.query(&to_only).unwrap()), expected(|n| n < 8));

    // Key 0, project 0 and allowed: event 0 alone of those written.
    let combined = AuditQuery {
        from: Some(time_of(0)),
        to: Some(time_of(11)),
        key_id: Some("key_0".into()),
        project: Some("proj_0".into()),
        outcome: Some(Outcome::Allowed),
        ..query()
    };
    let matching = |n: usize| n < 11 && n.is_multiple_of(2) && n.is_multiple_of(3) && n % 4 < 2;
    assert_eq!(seqs(&source.query(&combined).unwrap()), expected(matching));
    assert_eq!(seqs(&source.query(&combined).unwrap()), [1]);
    let after_it = AuditQuery {
        from: Some(time_of(1)),
        ..combined
    };
    assert_eq!(seqs(&source.query(&after_it).unwrap()), Vec::<u64>::new());
}

/// Pages of three, with two events written between pages (on later days, so into new JSON
/// Lines segments too): every line of the log as it was is given once, in order, and none of
/// the new ones; a fresh first page starts with the newest.
pub(crate) async fn pages_go_on_while_lines_are_appended(
    source: &AuditSource,
    log: &AuditLog,
    clock: &ManualClock,
) {
    let mut query = AuditQuery {
        limit: 3,
        ..AuditQuery::new()
    };
    let mut read = Vec::new();
    let mut next = EVENTS;
    loop {
        let page = source.query(&query).unwrap();
        assert!(page.items.len() <= 3);
        read.extend(seqs(&page));
        let Some(cursor) = page.next_cursor else {
            break;
        };
        // The cursor is text for a URL, and parses back.
        query.cursor = Some(cursor.to_string().parse().unwrap());
        write(log, clock, next..next + 2).await;
        next += 2;
        assert!(read.len() <= EVENTS, "a line came twice: {read:?}");
    }
    assert_eq!(read, expected(|_| true), "each line once, newest first");
    let fresh = source
        .query(&AuditQuery {
            limit: 1,
            ..AuditQuery::new()
        })
        .unwrap();
    assert_eq!(seqs(&fresh), [next as u64]);
    // With a filter, pages short of the limit still end, and give each match once.
    let rate_limited = AuditQuery {
        outcome: Some(Outcome::RateLimited),
        limit: 2,
        ..AuditQuery::new()
    };
    let expected: Vec<u64> = (0..next)
        .rev()
        .filter(|n| n % 4 == 2)
        .map(|n| n as u64 + 1)
        .collect();
    assert_eq!(all_pages(source, &rate_limited), expected);
}

/// `from` after `to` is an error; the limit is clamped; a `to` before every line reads
/// nothing; a cursor that is garbage, or of another kind of log, is refused.
pub(crate) fn bad_input_is_a_typed_error(source: &AuditSource, another_kind: &AuditSource) {
    let backwards = AuditQuery {
        from: Some(time_of(5)),
        to: Some(time_of(4)),
        ..AuditQuery::new()
    };
    let refused = source.query(&backwards).unwrap_err();
    assert!(
        matches!(refused, AuditReadError::FromAfterTo { .. }),
        "{refused}"
    );
    assert_eq!(refused.code(), "from_after_to");
    let empty_range = AuditQuery {
        from: Some(time_of(5)),
        to: Some(time_of(5)),
        ..AuditQuery::new()
    };
    assert!(source.query(&empty_range).unwrap().items.is_empty());

    let none = AuditQuery {
        limit: 0,
        ..AuditQuery::new()
    };
    let page = source.query(&none).unwrap();
    assert_eq!(seqs(&page), [EVENTS as u64], "a limit of 0 is 1");
    assert!(page.next_cursor.is_some());
    let huge = AuditQuery {
        limit: usize::MAX,
        ..AuditQuery::new()
    };
    assert_eq!(source.query(&huge).unwrap().items.len(), EVENTS);

    let long_ago = AuditQuery {
        to: Some(START.saturating_sub(Duration::from_secs(30 * 86_400))),
        ..AuditQuery::new()
    };
    assert_eq!(
        source.query(&long_ago).unwrap(),
        AuditPage {
            items: vec![],
            next_cursor: None
        }
    );

    for garbage in ["", "abc", "MTpqOjE6Mg==", "eyJzZXEiOjF9", "MTpqOmE6Mg"] {
        let refused = garbage.parse::<memorysync_pipeline::audit::AuditCursor>();
        assert!(
            matches!(refused, Err(AuditReadError::InvalidCursor(_))),
            "{garbage}"
        );
    }
    // A cursor of the other log's kind.
    let theirs = another_kind
        .query(&AuditQuery {
            limit: 1,
            ..AuditQuery::new()
        })
        .unwrap()
        .next_cursor
        .expect("the other log has more than one line");
    let mixed = AuditQuery {
        cursor: Some(theirs),
        ..AuditQuery::new()
    };
    let refused = source.query(&mixed).unwrap_err();
    assert!(
        matches!(refused, AuditReadError::InvalidCursor(_)),
        "{refused}"
    );
    assert_eq!(refused.code(), "invalid_cursor");
}

/// The intact log verifies: every line, its head, and its checkpoint when it keeps one. As JSON
/// it is the admin API's answer.
pub(crate) fn an_intact_log_verifies(source: &AuditSource, log: &AuditLog, checkpointed: bool) {
    let report = source.verify().unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.lines, log.head().seq as usize);
    let head = report.head.as_ref().unwrap();
    assert_eq!(
        (head.seq, head.hash.clone()),
        (log.head().seq, log.head().hash_hex())
    );
    assert_eq!(report.first_break, None);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["head"]["seq"], log.head().seq);
    assert_eq!(json["head"]["hash"], log.head().hash_hex());
    assert_eq!(json["first_break"], Value::Null);
    if checkpointed {
        assert_eq!(json["checkpoint"]["status"], "reached");
        assert_eq!(json["checkpoint"]["seq"], log.head().seq);
    } else {
        assert_eq!(json["checkpoint"], Value::Null);
    }
}

/// A log with no line: an empty page without a cursor, and a verification with no head.
pub(crate) fn an_empty_log_is_an_empty_page_and_verifies(source: &AuditSource) {
    let page = source.query(&AuditQuery::new()).unwrap();
    assert_eq!(
        page,
        AuditPage {
            items: vec![],
            next_cursor: None
        }
    );
    let report = source.verify().unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(
        (report.lines, report.head, report.first_break),
        (0, None, None)
    );
}
