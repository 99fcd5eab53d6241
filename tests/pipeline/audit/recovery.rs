//! The JSON Lines chain through time and failure: a request in flight across midnight, a torn
//! last line, an empty newest segment, a cut tail, each followed by a restart (the scenarios of
//! `common::audit_crash`, which the Redis stream runs too), and what only files have: segments
//! filed by the chain's time, a torn line moved aside and kept, a batch that fails part-way cut
//! back off, and a deployment that starts on a torn directory.

use super::*;
use crate::common::audit_crash::{
    self, BEFORE_MIDNIGHT, CrashLog, Files, assert_verifies, parsed, seqs, write_events,
};
use memorysync_pipeline::audit::{HEAD_FILE, RECOVERY_METHOD};

#[test]
fn a_request_in_flight_at_midnight_is_filed_after_the_one_it_follows_and_a_restart_goes_on_from_it()
{
    let files = Files::new();
    let lines = audit_crash::a_request_in_flight_at_midnight_then_a_restart(&files);
    // Filed by the chain's time: nothing in the day the spanning request arrived on.
    let next_day = segment_name(BEFORE_MIDNIGHT.saturating_add(Duration::from_secs(1)));
    assert_eq!(files.segment_names(), [next_day]);
    assert_eq!(lines.len(), 3);
}

#[test]
fn a_cut_tail_is_found_against_the_head_file_and_declared_by_the_restart() {
    let files = Files::new();
    audit_crash::a_cut_tail_is_found_then_declared_by_the_restart(&files);
    assert!(files.path().join(HEAD_FILE).is_file());
}

#[test]
fn an_empty_newest_segment_does_not_restart_the_chain() {
    let files = Files::new();
    audit_crash::an_emptied_end_does_not_restart_the_chain(&files);
}

/// A write cut short (by a crash, or a full disk) leaves part of a line at the end of the
/// newest segment. Readers leave it out; the next start moves it into a file beside the
/// segment, keeps it, and records a `RECOVERY` event naming that file and its byte count; the
/// chain goes on from the last whole line.
#[test]
fn a_torn_last_line_is_moved_aside_and_recorded_and_the_chain_goes_on() {
    let files = Files::new();
    let clock = ManualClock::new(T0);
    let head = write_events(&files, &clock, 3);
    let segment = files.newest_segment();
    let whole = fs::read(&segment).unwrap();
    let torn = br#"{"seq":4,"ts":"2027-01-15T08:00:03Z","request_id":"req_"#;
    files.tear(torn);
    assert_eq!(files.lines().len(), 3, "a reader leaves the torn line out");
    assert_eq!(files.reader().head().unwrap(), head);

    let head = write_events(&files, &clock, 1);
    let aside = segment.with_file_name(format!(
        "{}.torn-{}",
        segment.file_name().unwrap().to_str().unwrap(),
        whole.len()
    ));
    assert_eq!(fs::read(&aside).unwrap(), torn, "the torn bytes are kept");
    let lines = files.lines();
    assert_eq!(seqs(&lines), [1, 2, 3, 4, 5]);
    assert_verifies(&lines, files.checkpoint());
    assert_eq!(files.checkpoint(), Some(head));
    let recovery = parsed(&lines[3]);
    assert_eq!(recovery["method"], RECOVERY_METHOD);
    assert_eq!(
        recovery["detail"],
        format!(
            "torn_tail_bytes={} moved_to={} resumed_after_seq=3",
            torn.len(),
            aside.file_name().unwrap().to_str().unwrap()
        )
    );
    assert_eq!(
        files.segment_names().len(),
        1,
        "the moved-aside file is no segment"
    );
}

/// A batch that fails after its lines reached the segment (here: its checkpoint cannot be
/// written; a full disk fails the same way) is cut back off the segment, so the writer's retry
/// writes each line once and the segment never holds a torn line in its middle.
#[tokio::test(start_paused = true)]
async fn a_batch_that_fails_part_way_is_cut_back_off_and_written_once_by_the_retry() {
    let files = Files::new();
    let clock = ManualClock::new(T0);
    let log = log_on(&files.open(), &clock);
    let service = AuditRecordLayer::new(log.clone())
        .with_clock(clock.clone())
        .layer(ok_service());
    service
        .clone()
        .oneshot(get("/v1/memories/1"))
        .await
        .unwrap();
    log.flush().await;
    // The checkpoint's temporary file cannot be created: a directory has its name.
    let blocker = files.path().join(".head.tmp");
    fs::create_dir(&blocker).unwrap();
    service
        .clone()
        .oneshot(get("/v1/memories/2"))
        .await
        .unwrap();
    for _ in 0..100 {
        if log.stats().sink_failures > 1 {
            break;
        }
        elapse(Duration::from_millis(50)).await;
    }
    assert!(log.stats().sink_failures > 1, "{:?}", log.stats());
    assert_eq!(files.lines().len(), 1, "the failed batch was cut back off");

    fs::remove_dir(&blocker).unwrap();
    log.flush().await;
    let lines = files.lines();
    assert_eq!(seqs(&lines), [1, 2], "each line once");
    assert_verifies(&lines, Some(log.head()));
    assert_eq!(files.checkpoint(), Some(log.head()));
}

/// The server's way in: a deployment on an audit directory whose last line is torn starts, and
/// its audit log opens with the recovery (here with `fsync = "off"`, which changes nothing of it).
#[tokio::test]
async fn a_deployment_on_an_audit_dir_with_a_torn_last_line_starts_and_records_the_recovery() {
    use memorysync_pipeline::config::Config;
    use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};

    let files = Files::new();
    let text = format!(
        "environment = \"development\"\n[audit]\ndir = \"{}\"\nfsync = \"off\"\n",
        files.path().display()
    );
    let config = Config::from_toml(&text).unwrap();
    let first = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap();
    first.shutdown(Duration::from_secs(5)).await.unwrap();
    // Each start reconciles the config file: a `RECONCILE` event.
    assert_eq!(files.lines().len(), 1);
    files.tear(b"{\"seq\":");

    let again = Deployment::start(&config, DeploymentOptions::new())
        .await
        .unwrap();
    again.audit().flush().await;
    let lines = files.lines();
    let methods: Vec<Value> = lines.iter().map(|l| parsed(l)["method"].clone()).collect();
    assert_eq!(methods, ["RECONCILE", RECOVERY_METHOD, "RECONCILE"]);
    let detail = parsed(&lines[1])["detail"].clone();
    assert!(
        detail
            .as_str()
            .unwrap()
            .starts_with("torn_tail_bytes=7 moved_to=audit-"),
        "{detail}"
    );
    assert_verifies(&lines, None);
    again.shutdown(Duration::from_secs(5)).await.unwrap();
}
