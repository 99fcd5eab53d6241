//! The audit stream: 1,000 audited requests verified against the log's head, ids that stay valid
//! when event times repeat or go back, retention by `XTRIM MINID` to the millisecond, the
//! chain continued by a second `AuditLog`; and the scenarios of `common::audit_crash` on the
//! stream: a request in flight across midnight, entries cut off its end (found against the head
//! key, declared by the restart), a stream trimmed empty (the chain goes on from the head key).

use super::*;
use crate::common::audit_crash::{self, CrashLog};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_audited_requests_verify_retention_trims_to_the_millisecond_and_a_restart_continues_the_chain()
 {
    let Some(prefix) = TestPrefix::new("audit") else {
        return;
    };
    let clock = ManualClock::new(T0);
    let log = AuditLog::start(
        audit_sink(&prefix),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    // Two requests per second: pairs of events share a millisecond.
    audit_requests(&log, &clock, (0..1_000).map(|i| at(i / 2 * 1_000))).await;
    assert_eq!(log.stats().written, 1_000);

    let reader = audit_sink(&prefix);
    let lines = reader.read_lines().unwrap();
    assert_eq!(lines.len(), 1_000);
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(1_000)
    );
    assert_eq!(reader.head().unwrap(), log.head());
    assert_eq!(log.head().seq, 1_000);

    // Events at T0 .. T0 + 249 s are before the cutoff: 500 of them, not one more.
    assert_eq!(reader.purge_before(at(250_000)).unwrap(), 500);
    let lines = reader.read_lines().unwrap();
    assert_eq!(lines.len(), 500);
    assert_eq!(line_seq(&lines[0]), 501);
    assert_eq!(line_ts(&lines[0]), at(250_000));
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(500)
    );
    assert_eq!(reader.purge_before(at(250_000)).unwrap(), 0);
    drop(log);

    // The next process: its writer's first maintenance run trims what is now 90 days old
    // (T0 .. T0 + 299 s, 100 more), and its events continue the chain.
    clock.set(at(300_000).saturating_add(NINETY_DAYS));
    let log = AuditLog::start(
        audit_sink(&prefix),
        AuditLogConfig::new()
            .with_clock(clock.clone())
            .with_retention(NINETY_DAYS),
    )
    .unwrap();
    assert_eq!(log.head().seq, 1_000, "the chain goes on from the stream");
    eventually("the retention run", || {
        let purged = log.stats().purged;
        async move { purged == 100 }
    })
    .await;
    let later = at(300_000).saturating_add(NINETY_DAYS);
    audit_requests(
        &log,
        &clock,
        (0..10).map(|i| later.saturating_add(Duration::from_millis(i))),
    )
    .await;
    let lines = reader.read_lines().unwrap();
    assert_eq!(lines.len(), 410);
    assert_eq!(line_seq(&lines[0]), 601);
    assert_eq!(line_seq(&lines[400]), 1_001);
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(410)
    );
    assert_eq!(log.head().seq, 1_010);
    assert_eq!(reader.head().unwrap(), log.head());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_times_that_repeat_or_go_back_still_get_increasing_stream_ids() {
    let Some(prefix) = TestPrefix::new("audit-back") else {
        return;
    };
    let clock = ManualClock::new(T0);
    let log = AuditLog::start(
        audit_sink(&prefix),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    let times = [
        at(10_000),
        at(5_000),
        at(5_000),
        at(0),
        at(10_000),
        at(20_000),
    ];
    audit_requests(&log, &clock, times).await;
    assert_eq!(log.stats().sink_failures, 0);
    let reader = audit_sink(&prefix);
    let lines = reader.read_lines().unwrap();
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(6)
    );
    // Each line keeps its own event time; the ids never went backwards.
    let stamped: Vec<Timestamp> = lines.iter().map(|l| line_ts(l)).collect();
    assert_eq!(stamped, times);

    // Emptied by retention, the stream still refuses ids below the removed ones: new events
    // from a clock far behind are written all the same.
    assert_eq!(reader.purge_before(at(60_000)).unwrap(), 6);
    drop(log);
    let log = AuditLog::start(
        audit_sink(&prefix),
        AuditLogConfig::new().with_clock(clock.clone()),
    )
    .unwrap();
    audit_requests(&log, &clock, [at(-5_000), at(-5_000)]).await;
    assert_eq!(log.stats().sink_failures, 0);
    let lines = reader.read_lines().unwrap();
    assert_eq!(
        verify(lines.iter().map(String::as_str), Some(log.head())),
        Ok(2)
    );
}

#[test]
fn a_batch_written_again_after_its_reply_was_lost_is_not_repeated() {
    let Some(prefix) = TestPrefix::new("audit-retry") else {
        return;
    };
    let lines: Vec<ChainedLine> = (1..=4)
        .map(|seq| {
            let line = format!(r#"{{"seq":{seq},"prev":"p{seq}"}}"#);
            ChainedLine {
                seq,
                ts: at(0),
                hash: Sha256::digest(line.as_bytes()).into(),
                line,
            }
        })
        .collect();
    audit_sink(&prefix).write(&lines[..2]).unwrap();
    // A sink that does not know the stream's end (fresh, or after an error) looks first: the
    // same batch again is not written twice, and a batch overlapping the end adds the rest.
    audit_sink(&prefix).write(&lines[..2]).unwrap();
    audit_sink(&prefix).write(&lines[1..]).unwrap();
    let written = audit_sink(&prefix).read_lines().unwrap();
    let expected: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
    assert_eq!(written, expected);
}

#[test]
fn an_unreachable_redis_is_an_error_at_open_and_the_url_is_not_shown() {
    let error = RedisAuditSink::open(
        "redis://:hunter2@127.0.0.1:1/0",
        "memorysync:",
        Duration::from_millis(200),
    )
    .unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(RedisAuditSink::open("not a url", "memorysync:", TIMEOUT).is_err());
}

// ----- time and failure: the scenarios JSON Lines runs too -----------------------------------

/// The stream under a test prefix, cut and trimmed with commands of its own.
struct Stream(TestPrefix);

impl Stream {
    fn new(case: &str) -> Option<Self> {
        TestPrefix::new(case).map(Stream)
    }

    fn command(&self, command: &mut redis::Cmd) -> redis::Value {
        let client = redis::Client::open(self.0.url.as_str()).unwrap();
        let mut connection = client.get_connection_with_timeout(TIMEOUT).unwrap();
        command.query(&mut connection).unwrap()
    }
}

impl CrashLog for Stream {
    type Sink = RedisAuditSink;

    fn open(&self) -> RedisAuditSink {
        audit_sink(&self.0)
    }

    fn lines(&self) -> Vec<String> {
        audit_sink(&self.0).read_lines().unwrap()
    }

    fn checkpoint(&self) -> Option<memorysync_pipeline::audit::ChainHead> {
        audit_sink(&self.0).checkpoint().unwrap()
    }

    fn cut_last(&self, n: usize) {
        let stream = audit_sink(&self.0).stream().to_owned();
        let last = self.command(
            redis::cmd("XREVRANGE")
                .arg(&stream)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(n),
        );
        let ids: Vec<(String, Vec<String>)> = redis::from_redis_value(last).unwrap();
        let mut delete = redis::cmd("XDEL");
        delete.arg(&stream);
        for (id, _) in ids {
            delete.arg(id);
        }
        self.command(&mut delete);
    }

    fn empty_the_end(&self) {
        let stream = audit_sink(&self.0).stream().to_owned();
        self.command(redis::cmd("XTRIM").arg(stream).arg("MAXLEN").arg(0));
    }
}

#[test]
fn a_request_in_flight_at_midnight_keeps_the_stream_in_chain_order_across_a_restart() {
    let Some(stream) = Stream::new("audit-midnight") else {
        return;
    };
    audit_crash::a_request_in_flight_at_midnight_then_a_restart(&stream);
}

#[test]
fn entries_cut_off_the_stream_are_found_against_its_head_key_and_declared_by_the_restart() {
    let Some(stream) = Stream::new("audit-cut") else {
        return;
    };
    audit_crash::a_cut_tail_is_found_then_declared_by_the_restart(&stream);
    assert!(
        stream.0.keys().iter().any(|k| k.contains("audit-head:")),
        "{:?}",
        stream.0.keys()
    );
}

#[test]
fn a_stream_trimmed_empty_goes_on_from_its_head_key_not_from_seq_1() {
    let Some(stream) = Stream::new("audit-emptied") else {
        return;
    };
    audit_crash::an_emptied_end_does_not_restart_the_chain(&stream);
}

/// A stream whose key was deleted (not trimmed by retention, which keeps the key): the restart
/// goes on from the head key and declares every line since it lost, instead of going on
/// silently.
#[test]
fn a_deleted_stream_is_declared_lost_against_its_head_key_and_the_chain_goes_on() {
    use memorysync_pipeline::audit::{ENDS_BEFORE_CHECKPOINT, RECOVERY_METHOD};
    use memorysync_pipeline::clock::ManualClock;

    let Some(stream) = Stream::new("audit-deleted") else {
        return;
    };
    let clock = ManualClock::new(audit_crash::T0);
    let head = audit_crash::write_events(&stream, &clock, 3);
    let name = audit_sink(&stream.0).stream().to_owned();
    stream.command(redis::cmd("DEL").arg(name));
    let after = audit_crash::write_events(&stream, &clock, 1);
    assert_eq!(after.seq, head.seq + 2, "a recovery, then the request");
    let lines = stream.lines();
    let recovery = audit_crash::parsed(&lines[0]);
    assert_eq!(recovery["method"], RECOVERY_METHOD);
    let detail = recovery["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(ENDS_BEFORE_CHECKPOINT)
            && detail.contains(" checkpoint_seq=3 ")
            && detail.ends_with(" log_ends_at_seq=0 resumed_after_seq=3"),
        "{detail}"
    );
}
