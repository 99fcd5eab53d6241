//! The suite's checks: bad input refused with a typed error, an intact log verified, an empty
//! log.

use std::time::Duration;

use memorysync_pipeline::audit::{AuditLog, AuditPage, AuditQuery, AuditReadError, AuditSource};
use serde_json::Value;

use super::{EVENTS, START, seqs, time_of};

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
