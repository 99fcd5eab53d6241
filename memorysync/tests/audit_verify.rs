//! `memorysync audit verify` as a process, over chains written by the audit stage: a JSON Lines
//! directory (intact, edited, empty, missing, through a config) and a Redis stream.

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
            "audit dir {}\nlines: 5\nhead: seq 5, sha256 {}\nfirst break: none\n",
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
    assert!(
        run.stdout
            .ends_with("lines: 0\nhead: none (no lines)\nfirst break: none\n")
    );

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
