//! `memorysync audit verify` as a process, over chains written by the audit stage: a JSON Lines
//! directory (intact, edited, empty, missing, through a config, a request across midnight, a
//! torn last line before and after the restart that moves it aside, a cut tail before and after
//! the restart that declares it) and a Redis stream (intact, cut).

#[path = "../../tests/common/audit_crash.rs"]
#[allow(dead_code)] // the scenarios the crate's own tests run besides these
mod audit_crash;
mod common;

#[path = "../../tests/common/redis.rs"]
mod redis_harness;

use std::path::Path;
#[cfg(feature = "redis")]
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{memorysync, memorysync_in, write_audit_events};
use memorysync_pipeline::audit::{ChainHead, JsonLinesSink};

/// `audit verify --dir dir`.
fn verify_dir(dir: &Path) -> common::Run {
    memorysync(&[
        "audit",
        "verify",
        "--dir",
        dir.to_str().expect("a UTF-8 path"),
    ])
}

/// A directory holding a chain of `n` events.
async fn audit_dir(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_audit_events(JsonLinesSink::new(dir.path()).expect("a sink"), n).await;
    dir
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn an_intact_dir_reports_its_lines_and_head_and_exits_0() {
    let dir = audit_dir(5).await;
    let lines = JsonLinesSink::reader(dir.path())
        .read_lines()
        .expect("lines");
    let head = ChainHead::of_line(&lines[4]).expect("a head");
    let run = verify_dir(dir.path());
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "audit dir {}\nlines: 5\nhead: seq 5, sha256 {}\ncheckpoint: seq 5, reached\n\
             recoveries: none\nfirst break: none\n",
            dir.path().display(),
            hex(&head.hash)
        )
    );
    assert_eq!(run.stderr, "");
}

#[tokio::test]
async fn an_edited_line_is_reported_at_its_line_with_exit_1() {
    let dir = audit_dir(5).await;
    let segments = JsonLinesSink::reader(dir.path())
        .segments()
        .expect("segments");
    // The five events are seconds apart at most: one segment, unless a UTC day ended between.
    let segment = segments.last().expect("a segment");
    let text = std::fs::read_to_string(segment).expect("readable");
    if text.lines().count() < 4 {
        println!("skipped: the events straddled midnight UTC");
        return;
    }
    let edited = text.replacen("\"status\":200", "\"status\":201", 3);
    let edited = edited.replacen("\"status\":201", "\"status\":200", 2);
    assert_ne!(edited, text);
    std::fs::write(segment, &edited).expect("written");
    let offset = 5 - text.lines().count();
    let name = segment
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();

    let run = verify_dir(dir.path());
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("lines: 5\n"), "{}", run.stdout);
    let expected = format!(
        "first break: line {} ({name} line 3) was edited",
        offset + 3
    );
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
}

#[tokio::test]
async fn an_empty_dir_is_an_intact_empty_log_and_a_missing_one_exits_2() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = verify_dir(dir.path());
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.ends_with(
        "lines: 0\nhead: none (no lines)\ncheckpoint: none\nrecoveries: none\nfirst break: none\n"
    ));

    let missing = dir.path().join("nowhere");
    let run = verify_dir(&missing);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with("memorysync: audit verify: audit dir ")
            && run.stderr.contains("nowhere"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_config_names_its_audit_dir_relative_to_where_the_server_runs() {
    let dir = audit_dir(3).await;
    let config = "environment = \"production\"\n\n[audit]\ndir = \".\"\n";
    std::fs::write(dir.path().join("memorysync.toml"), config).expect("written");
    let run = memorysync_in(
        Some(dir.path()),
        &["audit", "verify", "--config", "memorysync.toml"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.starts_with("audit dir .\nlines: 3\n"),
        "{}",
        run.stdout
    );

    // --instance names a Redis stream: with a directory it is a mistake, said so.
    let run = memorysync_in(
        Some(dir.path()),
        &[
            "audit",
            "verify",
            "--config",
            "memorysync.toml",
            "--instance",
            "api-1",
        ],
        &[],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("keeps its audit log in ."), "{run:?}");
}

#[test]
fn configs_without_a_log_to_read_exit_2_saying_why() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cases = [
        ("environment = \"production\"\n", "in memory"),
        (
            "environment = \"production\"\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\n",
            "pass --instance NAME or set [server] instance",
        ),
        (
            "environment = \"production\"\ncolour = 1\n",
            "line 2: unknown field",
        ),
    ];
    for (text, says) in cases {
        std::fs::write(dir.path().join("c.toml"), text).expect("written");
        let run = memorysync_in(
            Some(dir.path()),
            &["audit", "verify", "--config", "c.toml"],
            &[],
        );
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains(says), "{run:?}");
    }
    let run = memorysync(&["audit", "verify", "--config", "/nonexistent/c.toml"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("cannot read the file"), "{run:?}");
    // Both sources at once, or neither, are usage errors.
    assert_eq!(memorysync(&["audit", "verify"]).code, Some(2));
    let both = memorysync(&["audit", "verify", "--dir", ".", "--config", "c.toml"]);
    assert_eq!(both.code, Some(2), "{both:?}");
}

#[test]
fn a_request_answered_after_midnight_is_no_tamper_alarm() {
    let files = audit_crash::Files::new();
    audit_crash::a_request_in_flight_at_midnight_then_a_restart(&files);
    let run = verify_dir(files.path());
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("lines: 3\n")
            && run.stdout.contains("checkpoint: seq 3, reached\n")
            && run
                .stdout
                .ends_with("recoveries: none\nfirst break: none\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_torn_last_line_is_no_break_and_after_the_restart_a_declared_recovery() {
    let files = audit_crash::Files::new();
    let clock = memorysync_pipeline::clock::ManualClock::new(audit_crash::T0);
    audit_crash::write_events(&files, &clock, 3);
    let torn = br#"{"seq":4,"ts":"2027-01-15T08:00:03Z","req"#;
    files.tear(torn);
    let segment = files.segment_names().pop().expect("a segment");
    let run = verify_dir(files.path());
    assert_eq!(run.code, Some(0), "{run:?}");
    let said = format!(
        "torn tail: {} bytes after the last line of {segment} (a write in progress, or cut \
         short by a crash: the next start moves them aside)\n",
        torn.len()
    );
    assert!(run.stdout.contains(&said), "{}", run.stdout);
    assert!(
        run.stdout.contains("checkpoint: seq 3, reached\n"),
        "{}",
        run.stdout
    );

    audit_crash::write_events(&files, &clock, 1);
    let run = verify_dir(files.path());
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stdout.contains("torn tail"), "{}", run.stdout);
    let declared = format!(
        "recoveries: 1\n  line 4 ({segment} line 4): torn_tail_bytes={} moved_to={segment}.torn-",
        torn.len()
    );
    assert!(run.stdout.contains(&declared), "{}", run.stdout);
    assert!(
        run.stdout.contains("checkpoint: seq 5, reached\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_cut_tail_fails_the_check_before_the_restart_and_after_it() {
    use audit_crash::CrashLog;

    let files = audit_crash::Files::new();
    let clock = memorysync_pipeline::clock::ManualClock::new(audit_crash::T0);
    audit_crash::write_events(&files, &clock, 5);
    files.cut_last(2);
    let run = verify_dir(files.path());
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains(
            "checkpoint: seq 5, not reached: the log ends at seq 3: lines were cut off\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("first break: none\n"),
        "{}",
        run.stdout
    );

    // The restart declares the cut; the check still fails on it, and says where.
    audit_crash::write_events(&files, &clock, 1);
    let run = verify_dir(files.path());
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains("checkpoint: seq 5, reached\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("recoveries: 1\n  line 4 (")
            && run
                .stdout
                .contains(": log_ends_before_checkpoint checkpoint_seq=5 "),
        "{}",
        run.stdout
    );
}

/// A stream name no other run uses, under the server's own prefix (`memorysync:`), which the
/// binary reads.
#[cfg(feature = "redis")]
fn unique_instance() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    format!("verify-test-{}-{nanos}", std::process::id())
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_stream_named_by_the_config_and_instance_verifies() {
    use memorysync_pipeline::redis_store::RedisAuditSink;

    let Some(url) = redis_harness::test_url() else {
        return;
    };
    let instance = unique_instance();
    // Deletes the stream (and anything else of this instance) at the end, even on a panic.
    let _cleanup = redis_harness::TestPrefix {
        url: url.clone(),
        prefix: format!("memorysync:audit:{instance}"),
    };
    let sink = RedisAuditSink::open(&url, "memorysync:", Duration::from_secs(2))
        .expect("Redis answers")
        .with_stream(&format!("audit:{instance}"));
    let _cleanup_head = redis_harness::TestPrefix {
        url: url.clone(),
        prefix: sink.head_key(),
    };
    assert_eq!(sink.stream(), format!("memorysync:audit:{instance}"));
    write_audit_events(sink, 4).await;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = format!(
        "environment = \"production\"\n[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n"
    );
    std::fs::write(dir.path().join("by-flag.toml"), &store).expect("written");
    let named = format!("{store}[server]\ninstance = \"{instance}\"\n");
    std::fs::write(dir.path().join("by-table.toml"), named).expect("written");

    let by_flag = [
        "audit",
        "verify",
        "--config",
        "by-flag.toml",
        "--instance",
        instance.as_str(),
    ];
    let by_table = ["audit", "verify", "--config", "by-table.toml"];
    for args in [&by_flag[..], &by_table[..]] {
        let run = memorysync_in(Some(dir.path()), args, &[]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            run.stdout.contains("lines: 4\nhead: seq 4, sha256 "),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("\ncheckpoint: seq 4, reached\n"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.ends_with("first break: none\n"),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains(&url), "the Redis URL is shown");
    }

    // An instance with no stream is a mistaken name, not an empty log.
    let other = unique_instance();
    let run = memorysync_in(
        Some(dir.path()),
        &[
            "audit",
            "verify",
            "--config",
            "by-flag.toml",
            "--instance",
            &other,
        ],
        &[],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("no audit stream"), "{run:?}");

    // The last entry deleted: the stream ends before its head key.
    let client = redis::Client::open(url.as_str()).expect("a client");
    let mut connection = client.get_connection().expect("a connection");
    let stream = format!("memorysync:audit:{instance}");
    let last: Vec<(String, Vec<String>)> = redis::cmd("XREVRANGE")
        .arg(&stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query(&mut connection)
        .expect("the last entry");
    let _: usize = redis::cmd("XDEL")
        .arg(&stream)
        .arg(&last[0].0)
        .query(&mut connection)
        .expect("deleted");
    let run = memorysync_in(Some(dir.path()), &by_table, &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .contains("checkpoint: seq 4, not reached: the log ends at seq 3: lines were cut off"),
        "{}",
        run.stdout
    );
}

#[cfg(not(feature = "redis"))]
#[test]
fn without_the_redis_feature_a_redis_stream_is_an_error_saying_so() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = "environment = \"production\"\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\n[server]\ninstance = \"api-1\"\n";
    std::fs::write(dir.path().join("c.toml"), text).expect("written");
    let run = memorysync_in(
        Some(dir.path()),
        &["audit", "verify", "--config", "c.toml"],
        &[],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("without the redis feature"), "{run:?}");
}
