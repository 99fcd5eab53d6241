//! One live writer per audit directory and per Redis audit stream, also when the holder is
//! killed: the binary as processes. (`--instance` itself is checked with the arguments, in the
//! binary's unit tests; the order of the name's sources is the library's.)
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::process::{ServerProcess, run_to_exit};

/// A server process holds the audit directory; a second server on it fails to start, naming the
/// directory; once the first is SIGKILLed, a new one starts on it and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_audit_dir_is_refused_and_starts_once_the_holder_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    let config = dir.path().join("memorysync.toml");
    std::fs::write(
        &config,
        format!(
            "environment = \"development\"\n[audit]\ndir = \"{}\"\n",
            audit.display()
        ),
    )
    .unwrap();
    let holder = ServerProcess::start(&config, "node-a", &[]).await;

    let (status, error) = run_to_exit(&config, &[]).await;
    assert!(!status.success(), "{error}");
    assert!(
        error.contains(&audit.display().to_string()) && error.contains("live writer"),
        "{error}"
    );

    holder.kill().await;
    let third = tokio::time::timeout(
        Duration::from_secs(30),
        ServerProcess::start_with(&config, &[], &[]),
    )
    .await
    .expect("the killed holder's lock is gone");
    let (status, printed) = third.terminate().await;
    assert!(status.success(), "{status}: {printed:?}");
}

/// A server process holds its Redis audit stream: another writer is refused; once the server is
/// SIGKILLed its lease, no longer renewed, expires within 10 s and the stream can be taken.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_servers_audit_stream_lease_expires_within_ten_seconds() {
    use std::time::Instant;

    use memorysync_pipeline::redis_store::{AUDIT_LEASE, RedisAuditSink};

    use crate::test_redis::RedisServer;
    let Some(redis_server) = RedisServer::start() else {
        return;
    };
    redis_server.until_answers().await;
    let url = redis_server.url();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("memorysync.toml");
    std::fs::write(
        &config,
        format!(
            "environment = \"development\"\n[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n"
        ),
    )
    .unwrap();
    let holder = ServerProcess::start(&config, "node-a", &[]).await;
    let sink = || {
        RedisAuditSink::open(&url, "memorysync:", Duration::from_secs(2))
            .unwrap()
            .with_stream("audit:node-a")
    };
    let refused = sink().take_lease().err().unwrap();
    assert_eq!(refused.kind(), std::io::ErrorKind::WouldBlock, "{refused}");

    holder.kill().await;
    let killed = Instant::now();
    let taken = loop {
        match sink().take_lease() {
            Ok(taken) => break taken,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    killed.elapsed() <= AUDIT_LEASE + Duration::from_secs(1),
                    "{e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    // Within one lease time of the last renewal, which came before the kill; plus one poll.
    let waited = killed.elapsed();
    assert!(
        waited <= AUDIT_LEASE + Duration::from_millis(500),
        "{waited:?}"
    );
    drop(taken);
}
