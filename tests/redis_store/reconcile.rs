//! `Deployment::reconcile` on Redis: the config-edit scenario of `tests/common/reconcile.rs`,
//! an instance started on an older file that changes nothing, a restart on the applied file,
//! and two claims of one version racing. The deployments keep their keys under the default
//! prefix, so they run on a `redis-server` of their own; the race runs under a test prefix.

use std::time::Duration;

use memorysync_pipeline::audit::MemoryAuditSink;
use memorysync_pipeline::deployment::Deployment;
use memorysync_pipeline::redis_store::RedisConfigVersions;
use memorysync_pipeline::store::{AppliedConfig, ConfigClaim, ConfigDigest, ConfigVersionStore};

use crate::common::reconcile::{
    Keys, assert_edit_in_force, config, config_edits_apply_without_a_restart, edited_file,
    first_file, insert_api_key, options, reconciliations,
};
use crate::common::redis::{RedisServer, clean_up, connect};

fn redis_store(redis: &RedisServer) -> String {
    format!(
        "[store]\nbackend = \"redis\"\nredis_url = \"{}\"\non_store_error = \"deny\"\n",
        redis.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_config_edits_apply_without_a_restart_and_older_files_are_refused() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    config_edits_apply_without_a_restart(&redis_store(&redis), "node-a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_on_an_older_file_changes_nothing_and_a_restart_keeps_the_edit() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let store = redis_store(&redis);
    let keys = Keys::new();
    let (first, edited) = (
        config(&first_file(&keys, &store)),
        config(&edited_file(&keys, &store, 2)),
    );
    let grace = Duration::from_secs(5);

    // Instance a applies the edit.
    let sink = MemoryAuditSink::new();
    let a = Deployment::start(&first, options(&sink, "node-a"))
        .await
        .unwrap();
    insert_api_key(&a, &keys).await;
    a.reconcile(&edited).await.unwrap();
    a.shutdown(grace).await.unwrap();

    // Instance b still has the first file: it starts, but its file is refused and the keys stay
    // as the edit left them (no key the edit removed comes back, no new hash is undone).
    let sink = MemoryAuditSink::new();
    let b = Deployment::start(&first, options(&sink, "node-b"))
        .await
        .unwrap();
    let audited = reconciliations(&b, &sink).await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].0, 409, "{audited:?}");
    let restarted_keys = crate::common::reconcile::query(&b, &keys.rehash_new).await;
    assert_eq!(restarted_keys.status, 200, "{restarted_keys:?}");
    let removed = crate::common::reconcile::query(&b, &keys.remove).await;
    crate::common::assert_problem(&removed, 401, "revoked_api_key");
    b.shutdown(grace).await.unwrap();

    // A restart on the applied file: the edit is in force and nothing is written again.
    let sink = MemoryAuditSink::new();
    let c = Deployment::start(&edited, options(&sink, "node-a"))
        .await
        .unwrap();
    let audited = reconciliations(&c, &sink).await;
    assert_eq!(
        audited,
        [(
            200,
            "config_version=2 added=0 changed=0 revoked=0 plans_changed=0 refused=0".to_owned()
        )]
    );
    assert_edit_in_force(&c, &keys).await;
    c.shutdown(grace).await.unwrap();
}

fn file(version: u64, digest: u8) -> AppliedConfig {
    AppliedConfig {
        version,
        digest: ConfigDigest([digest; 32]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_claiming_one_version_at_once_cannot_both_win() {
    let Some(connection) = connect("config_claim").await else {
        return;
    };
    let lease = Duration::from_secs(30);
    for version in 1..=20u64 {
        let (here, there) = (
            RedisConfigVersions::new(connection.clone()),
            RedisConfigVersions::new(connection.clone()),
        );
        let (mine, theirs) = tokio::join!(
            tokio::spawn(async move { here.claim(file(version, 1), "here", lease).await }),
            tokio::spawn(async move { there.claim(file(version, 2), "there", lease).await }),
        );
        let answers = [mine.unwrap().unwrap(), theirs.unwrap().unwrap()];
        let winners = answers.iter().filter(|a| **a == ConfigClaim::Newer).count();
        assert_eq!(winners, 1, "version {version}: {answers:?}");
        let store = RedisConfigVersions::new(connection.clone());
        let (winner, loser, digest) = if answers[0] == ConfigClaim::Newer {
            ("here", "there", 2)
        } else {
            ("there", "here", 1)
        };
        // The loser waits for the winner's lease, then finds the version taken.
        assert_eq!(
            answers.iter().filter(|a| **a == ConfigClaim::Busy).count(),
            1
        );
        store.release(winner).await.unwrap();
        let applied = store.applied().await.unwrap().unwrap();
        assert_eq!(
            store
                .claim(file(version, digest), loser, lease)
                .await
                .unwrap(),
            ConfigClaim::Conflicting { applied }
        );
        assert_eq!(
            store
                .claim(file(version - 1, 9), loser, lease)
                .await
                .unwrap(),
            ConfigClaim::Older { applied }
        );
        assert_eq!(
            store.applied().await.unwrap(),
            Some(applied),
            "refusals change nothing"
        );
    }
    clean_up(&connection).await;
}
