//! One suite for reading an audit log back ([`AuditSource`]), run over every log a sink writes:
//! the in-memory log and JSON Lines segments (`tests/pipeline/audit/read.rs`) and the Redis
//! stream (`tests/redis_store/audit_read.rs`). Events are recorded ten hours apart on a
//! `ManualClock` that starts before midnight UTC, so a JSON Lines log spans several day
//! segments; each event's key, project and outcome follow from its number, so each case knows
//! which lines a filter selects.

mod checks;
mod queries;

use std::time::Duration;

use memorysync_pipeline::audit::{
    AuditEvent, AuditLog, AuditPage, AuditQuery, AuditSource, Outcome,
};
use memorysync_pipeline::clock::{Clock, ManualClock, Timestamp};

// Not every test binary that includes `common` runs the suite.
#[allow(unused_imports)]
pub(crate) use checks::{
    an_empty_log_is_an_empty_page_and_verifies, an_intact_log_verifies, bad_input_is_a_typed_error,
};
#[allow(unused_imports)]
pub(crate) use queries::{
    filters_select_their_lines_newest_first, pages_go_on_while_lines_are_appended,
};

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
pub(crate) fn expected(keep: impl Fn(usize) -> bool) -> Vec<u64> {
    (0..EVENTS)
        .rev()
        .filter(|n| keep(*n))
        .map(|n| n as u64 + 1)
        .collect()
}

pub(crate) fn query() -> AuditQuery {
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
