//! One live writer per audit stream: the lease refuses a second writer while the first lives
//! (and renews), is released by a clean stop, and expires when its holder dies without a word.
//! Leases of a few hundred milliseconds keep the cases fast; the waits on Redis's own expiry
//! are real and bounded.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use memorysync_pipeline::audit::{AuditSink, ChainedLine};
use memorysync_pipeline::redis_store::{AUDIT_LEASE, RedisAuditSink};
use sha2::{Digest, Sha256};

use crate::common::redis::TestPrefix;

const TIMEOUT: Duration = Duration::from_secs(2);
const SHORT: Duration = Duration::from_millis(300);

fn sink(prefix: &TestPrefix) -> RedisAuditSink {
    RedisAuditSink::open(&prefix.url, &prefix.prefix, TIMEOUT)
        .unwrap()
        .with_stream("audit:node-a")
}

fn raw(prefix: &TestPrefix) -> redis::Connection {
    redis::Client::open(prefix.url.as_str())
        .unwrap()
        .get_connection_with_timeout(TIMEOUT)
        .unwrap()
}

/// Takes the lease again and again until it is free, within `within`; how long that took.
fn taken_within(prefix: &TestPrefix, within: Duration) -> (RedisAuditSink, Duration) {
    let start = Instant::now();
    loop {
        match sink(prefix).take_lease_for(SHORT) {
            Ok(sink) => return (sink, start.elapsed()),
            Err(error) if error.kind() == ErrorKind::WouldBlock && start.elapsed() < within => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("not taken within {within:?}: {error}"),
        }
    }
}

#[test]
fn two_writers_on_one_audit_stream_are_refused_instead_of_interleaving_one_chain() {
    let Some(prefix) = TestPrefix::new("audit-lease-second") else {
        return;
    };
    assert_eq!(AUDIT_LEASE, Duration::from_secs(10));
    let first = sink(&prefix).take_lease_for(SHORT).unwrap();
    // Several lease times pass: the first writer renews, so the second is still refused.
    std::thread::sleep(SHORT * 3);
    let error = sink(&prefix).take_lease_for(SHORT).err().unwrap();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert!(error.to_string().contains(first.stream()), "{error}");
    assert!(error.to_string().contains("live writer"), "{error}");

    // A clean stop releases the lease at once.
    drop(first);
    let second = sink(&prefix)
        .take_lease_for(SHORT)
        .expect("released on drop");
    let key = second.lease_key();
    drop(second);
    assert!(
        !prefix.keys().contains(&key),
        "the lease is deleted on a clean stop"
    );
}

#[test]
fn a_killed_writers_lease_expires_and_the_next_writer_takes_the_stream() {
    let Some(prefix) = TestPrefix::new("audit-lease-killed") else {
        return;
    };
    // What a SIGKILLed writer leaves behind: its lease, which nobody renews any more.
    let key = sink(&prefix).lease_key();
    let set: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg("killed-writer")
        .arg("NX")
        .arg("PX")
        .arg(500)
        .query(&mut raw(&prefix))
        .unwrap();
    assert!(set.is_some());
    let refused = sink(&prefix).take_lease_for(SHORT).err().unwrap();
    assert_eq!(refused.kind(), ErrorKind::WouldBlock);

    let (next, waited) = taken_within(&prefix, AUDIT_LEASE);
    assert!(waited < Duration::from_secs(2), "took {waited:?}");
    let owner: String = redis::cmd("GET")
        .arg(&key)
        .query(&mut raw(&prefix))
        .unwrap();
    assert_ne!(owner, "killed-writer");
    drop(next);
}

#[test]
fn a_writer_whose_lease_another_took_stops_writing() {
    let Some(prefix) = TestPrefix::new("audit-lease-lost") else {
        return;
    };
    let writer = sink(&prefix).take_lease_for(SHORT).unwrap();
    let text = r#"{"seq":1,"prev":"p1"}"#.to_owned();
    let line = ChainedLine {
        seq: 1,
        ts: crate::common::T0,
        hash: Sha256::digest(text.as_bytes()).into(),
        line: text,
    };
    writer.write(std::slice::from_ref(&line)).unwrap();
    let _: () = redis::cmd("SET")
        .arg(writer.lease_key())
        .arg("someone-else")
        .query(&mut raw(&prefix))
        .unwrap();
    let start = Instant::now();
    while writer.write(std::slice::from_ref(&line)).is_ok() {
        assert!(start.elapsed() < Duration::from_secs(5), "still writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    let owner: String = redis::cmd("GET")
        .arg(writer.lease_key())
        .query(&mut raw(&prefix))
        .unwrap();
    drop(writer);
    assert_eq!(owner, "someone-else", "the lease is not taken back");
}
