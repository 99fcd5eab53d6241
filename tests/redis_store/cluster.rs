//! `store.backend = "redis"` on a Redis Cluster of the test's own (three masters, three
//! replicas): a deployment from a config whose `redis_url` lists seed nodes admits, limits and
//! meters requests, revokes a key with its tombstones, queues webhook events and writes its
//! audit stream; every operation's keys share one slot, and the request-path keys spread over
//! all three masters; a reseed writes a config file back into a cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use http::Request;
use memorysync_pipeline::Environment;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::key::{ApiKey, KeyStore};
use memorysync_pipeline::quota::{
    AlertThresholds, Month, Operation, QuotaKey, QuotaStore, Reservation,
};
use memorysync_pipeline::redis_store::{RedisConnection, RedisOptions, RedisQuotaStore};
use tower::ServiceExt;

use crate::common::redis_cluster::RedisCluster;
use crate::deployment::health_of;

/// Keys (and projects, one each): enough that each master serves some of their slots (the
/// chance that one of three masters gets none of 40 is below one in a million).
const KEYS: usize = 40;

fn config(cluster: &RedisCluster, keys: &[ApiKey]) -> Config {
    let mut text = format!(
        "environment = \"development\"\n\
         [store]\nbackend = \"redis\"\nredis_url = {}\non_store_error = \"deny\"\n\
         [[webhooks]]\nurl = \"http://127.0.0.1:9/hook\"\nsecret_env = \"HOOK_SECRET\"\n\
         events = [\"quota.threshold\"]\n",
        cluster.toml_seeds()
    );
    for (n, key) in keys.iter().enumerate() {
        text.push_str(&format!(
            "[[projects]]\nid = \"proj_{n}\"\nadds_per_month = 2\nqueries_per_month = 100\n\
             [[keys]]\nid = \"key_{n}\"\nsha256 = \"{}\"\nproject = \"proj_{n}\"\n\
             environment = \"development\"\nrps = 100\nrpm = 3\n",
            key.hash().to_hex()
        ));
    }
    Config::from_toml(&text).unwrap()
}

async fn send(deployment: &Deployment, method: &str, key: &ApiKey, project: &str) -> u16 {
    let app = deployment
        .layer()
        .around(tower::service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(r#"{"results":[]}"#.to_owned()))
        }));
    let request = Request::builder()
        .method(method)
        .uri("/v1/memories")
        .header("authorization", format!("Bearer {}", key.expose_secret()))
        .header("x-project-id", project)
        .header("content-type", "application/json")
        .body(r#"{"text":"a memory"}"#.to_owned())
        .unwrap();
    app.oneshot(request).await.unwrap().status().as_u16()
}

/// `future`'s output, from synchronous code inside the test's runtime.
fn blocking<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

/// The hash tag of a key name: what decides its slot.
fn tag(name: &str) -> Option<&str> {
    let open = name.find('{')?;
    let close = open + name[open..].find('}')?;
    Some(&name[open + 1..close])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_on_a_cluster_keeps_each_operation_in_one_slot_and_spreads_over_every_master()
{
    let Some(cluster) = RedisCluster::start().await else {
        return;
    };
    let keys: Vec<ApiKey> = (0..KEYS)
        .map(|_| ApiKey::generate(Environment::Development).unwrap())
        .collect();
    let secret = memorysync_pipeline::webhook::WebhookSecret::generate()
        .unwrap()
        .expose();
    let options = DeploymentOptions::new()
        .with_instance("node-a")
        .with_secret_source(move |_: &str| Some(secret.clone()));
    let deployment = Deployment::start(&config(&cluster, &keys), options)
        .await
        .unwrap();

    for (n, key) in keys.iter().enumerate() {
        let project = format!("proj_{n}");
        // 3 a minute: the fourth is refused. Two adds a month: the first two store, so the
        // threshold alert (75%) is queued.
        let mut statuses = Vec::new();
        for method in ["POST", "POST", "GET", "GET"] {
            statuses.push(send(&deployment, method, key, &project).await);
        }
        assert_eq!(statuses, [200, 200, 200, 429], "key_{n}");
    }

    // A revocation writes the record and its tombstones in one script, in one slot.
    let now = memorysync_pipeline::clock::Clock::now(&memorysync_pipeline::clock::SystemClock);
    deployment.keys().revoke("key_0", now).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while send(&deployment, "GET", &keys[0], "proj_0").await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked key still passes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let health = health_of(&deployment).await;
    assert_eq!(health["status"], "ok", "{health}");
    let report = deployment.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_ok(), "{report:?}");

    // The instance's audit stream, on the master of its own slot, is one intact chain of
    // every request.
    let target = memorysync_pipeline::config::RedisTarget::Cluster(cluster.seeds());
    let stream = memorysync_pipeline::redis_store::RedisAuditSink::open_target(
        &target,
        "memorysync:",
        Duration::from_secs(2),
    )
    .unwrap()
    .with_stream("audit:node-a");
    let verified = memorysync_pipeline::audit::AuditSource::Redis(std::sync::Arc::new(stream))
        .verify()
        .unwrap();
    assert!(verified.ok, "{verified:?}");
    assert!(verified.lines > 4 * KEYS, "{verified:?}");

    // Where everything landed, master by master.
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3);
    let mut families_on: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut slots_of_tag: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for (port, _) in &masters {
        for name in cluster.keys_on(*port, "memorysync:") {
            let family = name.trim_start_matches("memorysync:").split(':').next();
            let family = family.unwrap().to_owned();
            families_on.entry(family).or_default().insert(*port);
            // Every key a script or transaction writes with others carries a tag; those
            // that share a tag share a slot, which `CLUSTER KEYSLOT` confirms.
            if let Some(tag) = tag(&name) {
                let slot = cluster.slot(&name);
                assert_eq!(cluster.master_of(&name), *port, "{name}");
                slots_of_tag.entry(tag.to_owned()).or_default().insert(slot);
            }
        }
    }
    let every_master: BTreeSet<u16> = masters.iter().map(|(port, _)| *port).collect();
    for family in ["rl", "quota", "alert"] {
        assert_eq!(
            families_on.get(family),
            Some(&every_master),
            "the {family} keys are not on every master: {families_on:?}"
        );
    }
    for (tag, slots) in &slots_of_tag {
        assert_eq!(
            slots.len(),
            1,
            "the keys tagged {{{tag}}} are in several slots"
        );
    }
    for tag in ["keys", "queue", "audit%3Anode-a"] {
        assert!(
            slots_of_tag.contains_key(tag),
            "no key tagged {{{tag}}}: {slots_of_tag:?}"
        );
    }
    // Each rate-limited key id and each metered project has its own tag: the load of
    // requests spreads with them.
    for n in 0..KEYS {
        assert!(slots_of_tag.contains_key(&format!("key_{n}")), "key_{n}");
        assert!(slots_of_tag.contains_key(&format!("proj_{n}")), "proj_{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirections_of_a_slot_being_migrated_are_followed_and_its_counters_move_with_it() {
    let Some(cluster) = RedisCluster::start().await else {
        return;
    };
    let options = RedisOptions {
        prefix: "memorysync:".into(),
        ..RedisOptions::default()
    };
    let connection = RedisConnection::connect_cluster(&cluster.seeds(), options)
        .await
        .unwrap();
    let quotas = RedisQuotaStore::new(connection);
    let key = QuotaKey {
        project: "proj_moving".into(),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
    };
    let counter = "memorysync:quota:{proj_moving}:add:2027-01";
    let (slot, from) = (cluster.slot(counter), cluster.master_of(counter));
    let to = cluster
        .masters()
        .into_iter()
        .map(|(port, _)| port)
        .find(|port| *port != from)
        .unwrap();

    let used = std::sync::Mutex::new(Vec::new());
    let reserve = || {
        let answer = blocking(quotas.reserve(&key, 1_000, AlertThresholds::NONE));
        match answer {
            Ok(Reservation::Reserved { used: n, .. }) => used.lock().unwrap().push(n),
            other => panic!("a reservation during the migration: {other:?}"),
        }
    };
    reserve();
    cluster.migrate_slot(slot, from, to, |_step| {
        reserve();
        reserve();
    });
    reserve();
    assert_eq!(cluster.master_of(counter), to);
    assert_eq!(*used.lock().unwrap(), (1..=8).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_waits_for_a_replica_and_fails_where_none_acknowledges_it() {
    let Some(cluster) = RedisCluster::start().await else {
        return;
    };
    let Some(alone) = crate::common::redis::RedisServer::start() else {
        return;
    };
    alone.until_answers().await;
    let key = QuotaKey {
        project: "proj_waiting".into(),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
    };
    // A call timeout of 10 s, so that a replica on a machine busy with the other tests has
    // up to 5 s to acknowledge.
    let options = RedisOptions {
        timeout: Duration::from_secs(10),
        ..RedisOptions::default()
    };
    let replicated = RedisQuotaStore::new(
        RedisConnection::connect_cluster(&cluster.seeds(), options.clone())
            .await
            .unwrap(),
    )
    .with_replica_wait(Duration::from_secs(5));
    for n in 1..=3 {
        let answer = replicated.reserve(&key, 10, AlertThresholds::NONE).await;
        assert!(
            matches!(answer, Ok(Reservation::Reserved { used, .. }) if used == n),
            "{answer:?}"
        );
    }

    // One Redis without a replica: `WAIT` answers 0 after its time, and the reservation is a
    // store error (the stage's outage policy applies), still counted.
    let unreplicated = RedisQuotaStore::new(
        RedisConnection::connect(&alone.url(), options)
            .await
            .unwrap(),
    )
    .with_replica_wait(Duration::from_millis(20));
    let answer = unreplicated.reserve(&key, 10, AlertThresholds::NONE).await;
    let error = answer.unwrap_err();
    assert!(
        error.to_string().contains("no replica acknowledged"),
        "{error}"
    );
    assert_eq!(unreplicated.used(&key).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_url_naming_a_cluster_node_is_refused_saying_how_to_name_a_cluster() {
    let Some(cluster) = RedisCluster::start().await else {
        return;
    };
    let error = RedisConnection::connect(&cluster.seeds()[0], RedisOptions::default())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("list the cluster's seed nodes"),
        "{error}"
    );
    // A list of one seed is a cluster, and works.
    let one_seed = vec![cluster.seeds()[0].clone()];
    let connection = RedisConnection::connect_cluster(&one_seed, RedisOptions::default())
        .await
        .unwrap();
    connection.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memorysync_store_reseed_writes_the_file_back_into_a_cluster_and_a_new_epoch() {
    let Some(cluster) = RedisCluster::start().await else {
        return;
    };
    let keys: Vec<ApiKey> = (0..3)
        .map(|_| ApiKey::generate(Environment::Development).unwrap())
        .collect();
    let config = config(&cluster, &keys);
    let first = memorysync_pipeline::deployment::reseed(&config)
        .await
        .unwrap();
    assert_eq!((first.added, first.changed), (3, 0), "{first:?}");
    let again = memorysync_pipeline::deployment::reseed(&config)
        .await
        .unwrap();
    assert_eq!((again.added, again.changed), (0, 0), "{again:?}");
    assert_ne!(first.epoch.id(), again.epoch.id());
    assert_eq!(again.before.epoch.as_ref(), Some(&first.epoch));

    // The file's keys are served by a deployment on the reseeded cluster.
    let secret = memorysync_pipeline::webhook::WebhookSecret::generate()
        .unwrap()
        .expose();
    let options = DeploymentOptions::new()
        .with_instance("node-b")
        .with_secret_source(move |_: &str| Some(secret.clone()));
    let deployment = Deployment::start(&config, options).await.unwrap();
    assert_eq!(send(&deployment, "GET", &keys[2], "proj_2").await, 200);
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}
