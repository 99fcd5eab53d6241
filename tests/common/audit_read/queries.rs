//! The suite's queries: filters alone and together, and pages while lines are appended.

use std::time::Duration;

use memorysync_pipeline::audit::{AuditLog, AuditQuery, AuditSource, Outcome};
use memorysync_pipeline::clock::ManualClock;

use super::{EVENTS, all_pages, expected, query, seqs, time_of, write};

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
