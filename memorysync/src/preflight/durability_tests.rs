//! `redis-appendonly` and `redis-noeviction` against a `redis-server` of the test's own,
//! configured each way with `CONFIG SET`, and behind an ACL user that may not run `CONFIG`.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

use super::exit_code;
use super::probe_tests::{closed_port, on_redis};
use super::tests::{SECRET_VAR, assert_only_failure, run, webhook_secret};
use crate::test_redis::RedisServer;

/// A durable server (`appendonly yes`, and Redis's default `noeviction`), answering.
async fn durable() -> Option<RedisServer> {
    let redis = RedisServer::start_durable()?;
    redis.until_answers().await;
    Some(redis)
}

async fn admin(redis: &RedisServer, command: &[&str]) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: redis::Value = redis::cmd(command[0])
        .arg(&command[1..])
        .query_async(&mut connection)
        .await
        .unwrap();
}

async fn preflight(url: &str) -> (Vec<super::checks::Item>, String) {
    run(&on_redis(url), &[], &[(SECRET_VAR, &webhook_secret())]).await
}

#[tokio::test]
async fn a_redis_without_its_append_only_file_fails_the_appendonly_item_saying_why() {
    let Some(redis) = durable().await else {
        return;
    };
    admin(&redis, &["CONFIG", "SET", "appendonly", "no"]).await;
    let (items, report) = preflight(&redis.url()).await;
    let line = assert_only_failure(&items, "redis-appendonly");
    assert!(
        line.starts_with("fail redis-appendonly: appendonly is \"no\""),
        "{line}"
    );
    assert!(line.ends_with("set appendonly yes"), "{line}");
    assert!(report.contains("pass redis-noeviction\n"), "{report}");
}

#[tokio::test]
async fn a_redis_that_evicts_when_full_fails_the_noeviction_item_saying_why() {
    let Some(redis) = durable().await else {
        return;
    };
    admin(
        &redis,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
    )
    .await;
    let (items, _) = preflight(&redis.url()).await;
    let line = assert_only_failure(&items, "redis-noeviction");
    assert!(
        line.contains("maxmemory-policy is \"allkeys-lru\""),
        "{line}"
    );
    assert!(line.ends_with("set maxmemory-policy noeviction"), "{line}");
}

#[tokio::test]
async fn where_config_is_not_allowed_both_items_are_skipped_with_the_reason_and_no_password() {
    let Some(redis) = durable().await else {
        return;
    };
    let password = "preflight-acl-password-7f3a";
    let rule = format!(">{password}");
    admin(
        &redis,
        &[
            "ACL", "SETUSER", "app", "on", &rule, "~*", "&*", "+@all", "-config",
        ],
    )
    .await;
    let url = redis
        .url()
        .replace("redis://", &format!("redis://app:{password}@"));
    let (items, report) = preflight(&url).await;
    assert_eq!(exit_code(&items), 0, "{report}");
    assert!(report.contains("pass redis-reachable\n"), "{report}");
    for name in ["redis-appendonly", "redis-noeviction"] {
        let line = report.lines().find(|l| l.contains(name)).unwrap();
        assert!(
            line.starts_with(&format!(
                "pass {name} (skipped: CONFIG GET is not allowed here: "
            )),
            "{line}"
        );
    }
    assert!(!report.contains(password), "{report}");
}

#[tokio::test]
async fn an_unreachable_redis_fails_once_and_the_durability_items_point_to_it() {
    let text = on_redis(&format!("redis://127.0.0.1:{}", closed_port()));
    let (items, report) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    assert_only_failure(&items, "redis-reachable");
    assert!(
        report.contains("pass redis-appendonly (skipped: not checked: Redis does not answer"),
        "{report}"
    );
}
