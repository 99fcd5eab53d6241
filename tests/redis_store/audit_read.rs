//! The audit stream read back (`AuditSource`): the shared suite (`tests/common/audit_read/`)
//! on a stream under a test prefix, an entry deleted from the middle found by `verify`, and the
//! stream a Redis `Deployment` hands out for its instance (on a `redis-server` of its own: the
//! deployment writes under the default prefix).

use std::time::Duration;

use http::{Request, StatusCode};
use memorysync_pipeline::audit::{
    AuditLog, AuditLogConfig, AuditQuery, AuditSourceKind, BreakKind, MemoryAuditSink, Outcome,
};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::redis_store::RedisAuditSink;
use tower::ServiceExt;

use crate::common::audit_read::{self as suite, EVENTS};
use crate::common::redis::{RedisServer, TestPrefix};

/// An audit log on the stream `<prefix>audit`.
fn stream_log(prefix: &TestPrefix) -> AuditLog {
    let sink = RedisAuditSink::open(&prefix.url, &prefix.prefix, Duration::from_secs(2)).unwrap();
    AuditLog::start(sink, AuditLogConfig::new()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_on_the_redis_stream() {
    let Some(prefix) = TestPrefix::new("audit-read") else {
        return;
    };
    let log = stream_log(&prefix);
    let source = log.source();
    assert_eq!(source.kind(), AuditSourceKind::RedisStream);
    // Before the first line the stream does not exist: an empty log.
    suite::an_empty_log_is_an_empty_page_and_verifies(&source);
    let clock = suite::write_events(&log).await;

    let memory = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap();
    suite::write_events(&memory).await;
    suite::filters_select_their_lines_newest_first(&source);
    suite::bad_input_is_a_typed_error(&source, &memory.source());
    suite::an_intact_log_verifies(&source, &log, true);
    suite::pages_go_on_while_lines_are_appended(&source, &log, &clock).await;
    suite::an_intact_log_verifies(&source, &log, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_deleted_from_the_middle_is_the_first_break() {
    let Some(prefix) = TestPrefix::new("audit-read-gap") else {
        return;
    };
    let log = stream_log(&prefix);
    suite::write_events(&log).await;
    let stream = format!("{}audit", prefix.prefix);
    let client = redis::Client::open(prefix.url.as_str()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query(&mut connection)
        .unwrap();
    assert_eq!(entries.len(), EVENTS);
    let _: usize = redis::cmd("XDEL")
        .arg(&stream)
        .arg(&entries[4].0)
        .query(&mut connection)
        .unwrap();

    let report = log.source().verify().unwrap();
    assert!(!report.ok);
    assert_eq!(report.lines, EVENTS - 1);
    let broken = report.first_break.clone().unwrap();
    assert_eq!((broken.kind, broken.seq), (BreakKind::Gap, Some(6)));
    assert_eq!((broken.at.line, broken.at.segment), (5, None));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["first_break"]["kind"], "gap");
    assert_eq!(json["head"]["seq"], EVENTS);
    // Queries step over the hole.
    let page = log.source().query(&AuditQuery::new()).unwrap();
    assert_eq!(page.items.len(), EVENTS - 1);
    assert!(page.items.iter().all(|item| item["seq"] != 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_on_redis_hands_out_its_instance_stream() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let text = format!(
        "environment = \"development\"\n[store]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
        redis.url()
    );
    let config = Config::from_toml(&text).unwrap();
    let deployment = Deployment::start(&config, DeploymentOptions::new().with_instance("node-a"))
        .await
        .unwrap();
    let app = deployment
        .layer()
        .around(tower::service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    let request = Request::get("/v1/memories").body(String::new()).unwrap();
    assert_eq!(
        app.oneshot(request).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    deployment.audit().flush().await;

    let source = deployment.audit_source();
    assert_eq!(source.kind(), AuditSourceKind::RedisStream);
    let query = AuditQuery {
        outcome: Some(Outcome::Unauthenticated),
        ..AuditQuery::new()
    };
    let page = source.query_async(query).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0]["path"], "/v1/memories");
    let report = source.verify_async().await.unwrap();
    assert!(report.ok, "{report:?}");
    // The reconciliation of the config at start, then the call.
    assert_eq!(report.lines, 2);
    // Its own stream: `memorysync:audit:node-a`.
    let client = redis::Client::open(redis.url().as_str()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let length: usize = redis::cmd("XLEN")
        .arg("memorysync:audit:node-a")
        .query(&mut connection)
        .unwrap();
    assert_eq!(length, 2);
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}
