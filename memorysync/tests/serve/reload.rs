//! SIGHUP on a running `memorysync serve`: a config edit (a key removed, one rehashed, one
//! given an expiry, one new limits, a plan changed) applied without a restart; a file that does
//! not load and an older `config_version` changing nothing; then a restart on the edited file
//! applying the same. On the in-memory stores and on Redis.
#![allow(clippy::unwrap_used)]

use memorysync_pipeline::Environment;
use memorysync_pipeline::key::ApiKey;

use crate::client::Running;
use crate::process::ServerProcess;

const PROJECT: &str = "proj_reload";

struct Keys {
    keep: ApiKey,
    remove: ApiKey,
    rehash_old: ApiKey,
    rehash_new: ApiKey,
    expire: ApiKey,
    limit: ApiKey,
}

fn entry(id: &str, key: &ApiKey, extra: &str) -> String {
    format!(
        "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n{extra}",
        key.hash().to_hex()
    )
}

fn first_file(keys: &Keys, store: &str) -> String {
    format!(
        "environment = \"development\"\nconfig_version = 1\n{store}\n\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 100\nqueries_per_month = 100\n{}{}{}{}{}",
        entry("key_keep", &keys.keep, ""),
        entry("key_remove", &keys.remove, ""),
        entry("key_rehash", &keys.rehash_old, ""),
        entry("key_expire", &keys.expire, ""),
        entry("key_limit", &keys.limit, ""),
    )
}

fn edited_file(keys: &Keys, store: &str) -> String {
    format!(
        "environment = \"development\"\nconfig_version = 2\n{store}\n\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 0\nqueries_per_month = 100\n{}{}{}{}",
        entry("key_keep", &keys.keep, ""),
        entry("key_rehash", &keys.rehash_new, ""),
        entry(
            "key_expire",
            &keys.expire,
            "expires_at = \"2020-01-01T00:00:00Z\"\n"
        ),
        entry("key_limit", &keys.limit, "").replace("rps = 100", "rps = 1"),
    )
}

/// `method path` with `key`: the status and the JSON body.
async fn call(
    client: &Running,
    method: &str,
    path: &str,
    key: &ApiKey,
) -> (u16, serde_json::Value) {
    let bearer = format!("Bearer {}", key.expose_secret());
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-project-id", PROJECT),
        ("content-type", "application/json"),
    ];
    let body = if method == "POST" {
        r#"{"text":"a"}"#
    } else {
        ""
    };
    client.send(method, path, &headers, body).await
}

async fn list(client: &Running, key: &ApiKey) -> (u16, serde_json::Value) {
    call(client, "GET", "/v1/memories", key).await
}

#[track_caller]
fn assert_refused(answer: &(u16, serde_json::Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{answer:?}");
    assert_eq!(answer.1["code"], code, "{answer:?}");
}

/// What the edited file says is what the server does. `removed` is the code a removed key
/// gets: `revoked_api_key` where the store remembers it, `invalid_api_key` on a fresh one.
async fn assert_edit_in_force(client: &Running, keys: &Keys, removed: &str) {
    assert_eq!(list(client, &keys.keep).await.0, 200);
    assert_refused(&list(client, &keys.remove).await, 401, removed);
    assert_refused(
        &list(client, &keys.rehash_old).await,
        401,
        "invalid_api_key",
    );
    assert_eq!(list(client, &keys.rehash_new).await.0, 200);
    assert_refused(&list(client, &keys.expire).await, 401, "expired_api_key");
    let (first, second) = (
        list(client, &keys.limit).await,
        list(client, &keys.limit).await,
    );
    assert!(
        first.0 == 429 || second.0 == 429,
        "rps = 1: {first:?} {second:?}"
    );
    // No adds left in the plan: an add is degraded to an empty result.
    let added = call(client, "POST", "/v1/memories", &keys.keep).await;
    assert_eq!(added, (200, serde_json::json!({"results": []})));
}

async fn sighup_applies_an_edit_and_a_restart_applies_it_too(
    store: &str,
    instance: &str,
    removed_after_restart: &str,
) {
    let key = || ApiKey::generate(Environment::Development).unwrap();
    let keys = Keys {
        keep: key(),
        remove: key(),
        rehash_old: key(),
        rehash_new: key(),
        expire: key(),
        limit: key(),
    };
    let state = tempfile::tempdir().unwrap();
    let path = state.path().join("memorysync.toml");
    let write = |text: &str| std::fs::write(&path, text).unwrap();
    write(&first_file(&keys, store));
    let mut server = ServerProcess::start(&path, instance, &[]).await;
    let client = Running::at(server.addr);
    for key in [
        &keys.keep,
        &keys.remove,
        &keys.rehash_old,
        &keys.expire,
        &keys.limit,
        &keys.limit,
    ] {
        assert_eq!(list(&client, key).await.0, 200);
    }
    assert_eq!(
        call(&client, "POST", "/v1/memories", &keys.keep).await.0,
        200
    );

    // The edit, on SIGHUP.
    write(&edited_file(&keys, store));
    server.hangup().await;
    let line = server.next_line_with("config ").await;
    assert_eq!(
        line,
        "config reconciled: config_version 2, 0 added, 3 changed, 1 revoked, 1 plans changed, 0 refused, 0 admin tokens"
    );
    assert_edit_in_force(&client, &keys, "revoked_api_key").await;

    // A file that does not load changes nothing; the server keeps serving.
    write("environment = \"development\"\n[[keys]]\nid = \n");
    server.hangup().await;
    let line = server.next_line_with("config ").await;
    assert!(line.starts_with("config reload failed:"), "{line}");
    assert_edit_in_force(&client, &keys, "revoked_api_key").await;

    // An older file is refused and changes nothing.
    write(&first_file(&keys, store));
    server.hangup().await;
    let line = server.next_line_with("config ").await;
    assert!(
        line.starts_with("config refused: config_version 1 is older than 2"),
        "{line}"
    );
    assert_edit_in_force(&client, &keys, "revoked_api_key").await;

    // A restart on the edited file applies it too.
    write(&edited_file(&keys, store));
    let (status, printed) = server.terminate().await;
    assert!(status.success(), "{status}: {printed:?}");
    let server = ServerProcess::start(&path, instance, &[]).await;
    let client = Running::at(server.addr);
    assert_edit_in_force(&client, &keys, removed_after_restart).await;
    let (status, _) = server.terminate().await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_sighup_applies_a_config_edit_without_a_restart() {
    // A fresh memory store at the restart: the removed key is simply unknown.
    sighup_applies_an_edit_and_a_restart_applies_it_too("", "reload-memory", "invalid_api_key")
        .await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sighup_applies_a_config_edit_without_a_restart() {
    let Some(redis) = crate::test_redis::RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let store = format!(
        "[store]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
        redis.url()
    );
    // Redis remembers the revocation across the restart.
    sighup_applies_an_edit_and_a_restart_applies_it_too(&store, "reload-redis", "revoked_api_key")
        .await;
}

#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_sighup_applies_a_config_edit_without_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let store = format!(
        "[store]\nbackend = \"embedded\"\npath = \"{}\"\n",
        state.path().display()
    );
    // The store's database remembers the revocation, and the version, across the restart.
    sighup_applies_an_edit_and_a_restart_applies_it_too(
        &store,
        "reload-embedded",
        "revoked_api_key",
    )
    .await;
}
