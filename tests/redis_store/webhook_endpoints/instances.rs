//! Two deployments on one Redis (a `redis-server` of the test's own, so both use the default
//! prefix): an endpoint created on one and published on the other, a 410 met by either, a
//! rotation, one attempt log, and a dead letter made on one replayed by id on the other.

use std::time::Duration;

use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::deployment::Deployment;
use memorysync_pipeline::webhook::endpoints::{EndpointState, SecretKey};

use super::{config, new_endpoint, options, within_a_second};
use crate::common::T0;
use crate::common::hooks::{Hook, eventually};
use crate::common::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_an_endpoint_its_410_and_its_rotation_within_a_second() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let config = config(&redis.url());
    let a = Deployment::start(&config, options("node-a", &key, &clock))
        .await
        .unwrap();
    let b = Deployment::start(&config, options("node-b", &key, &clock))
        .await
        .unwrap();
    let b_set = b.webhooks().unwrap().endpoints().clone();
    let mut hook = Hook::start().await;

    // Created on A, in force on B: B publishes, the receiver verifies with the secret A gave.
    let (view, secret) = a
        .endpoints()
        .create(new_endpoint(&hook.url("/in")))
        .await
        .unwrap();
    let id = view.id.clone();
    within_a_second("B has the endpoint", async || {
        b_set.snapshot().iter().any(|e| e.id() == id)
    })
    .await;
    let message = b.webhooks().unwrap().publish_for(
        "proj_a",
        "quota.exhausted",
        serde_json::json!({ "n": 1 }),
    );
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), &*message);
    assert!(arrival.verifies(&secret, clock.now()));

    // A 410 on a delivery A published (whichever instance sent it) disables it for B.
    hook.answer(410);
    a.webhooks()
        .unwrap()
        .publish_for("proj_a", "quota.exhausted", serde_json::json!({ "n": 2 }));
    hook.next().await;
    within_a_second("B sees the 410", async || {
        let stored = b.endpoints().get(&id).await.unwrap().state;
        b.webhooks().unwrap().is_disabled(&id) && stored == EndpointState::DisabledGone
    })
    .await;

    // Enabled and rotated on A: B signs with both secrets until the overlap ends.
    hook.answer(200);
    a.endpoints().enable(&id).await.unwrap();
    let hour = Duration::from_secs(3600);
    let (_, new) = a.endpoints().rotate_secret(&id, hour).await.unwrap();
    within_a_second("B has the rotation", async || {
        let snapshot = b_set.snapshot();
        let endpoint = snapshot.iter().find(|e| e.id() == id).unwrap();
        endpoint.state().is_enabled() && endpoint.rotating_until(clock.now()).is_some()
    })
    .await;
    let hooks = b.webhooks().unwrap();
    hooks.publish_for("proj_a", "quota.exhausted", serde_json::json!({ "n": 3 }));
    let during = hook.next().await;
    assert_eq!(during.signatures(), 2, "{during:?}");
    assert!(during.verifies(&secret, clock.now()) && during.verifies(&new, clock.now()));
    clock.advance(hour);
    hooks.publish_for("proj_a", "quota.exhausted", serde_json::json!({ "n": 4 }));
    let after = hook.next().await;
    assert_eq!(after.signatures(), 1);
    assert!(after.verifies(&new, clock.now()) && !after.verifies(&secret, clock.now()));

    // Every attempt, whichever instance sent it, is in the one log both read.
    use memorysync_pipeline::webhook::attempt_log::{AttemptLog, AttemptQuery};
    let mine = AttemptQuery {
        endpoint: Some(id.clone()),
        ..AttemptQuery::default()
    };
    eventually("both instances read the four attempts", async || {
        let on_a = a.webhook_attempts().query(&mine).await.unwrap().items;
        let on_b = b.webhook_attempts().query(&mine).await.unwrap().items;
        on_a.len() == 4 && on_a == on_b
    })
    .await;
    let attempts = a.webhook_attempts().query(&mine).await.unwrap().items;
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    // Newest first: the attempt an hour later leads; the other three share one instant of the
    // manual clock, so their order among themselves is not the test's to say.
    assert_eq!(statuses[0], Some(200), "{statuses:?}");
    let mut same_instant = statuses[1..].to_vec();
    same_instant.sort();
    assert_eq!(
        same_instant,
        [Some(200), Some(200), Some(410)],
        "{statuses:?}"
    );

    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_made_on_one_instance_is_replayed_by_its_id_on_the_other() {
    use memorysync_pipeline::webhook::endpoints::EndpointPatch;

    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let config = config(&redis.url());
    let a = Deployment::start(&config, options("node-a", &key, &clock))
        .await
        .unwrap();
    let b = Deployment::start(&config, options("node-b", &key, &clock))
        .await
        .unwrap();
    let mut hook = Hook::start().await;
    let (view, secret) = a
        .endpoints()
        .create(new_endpoint(&hook.url("/in")))
        .await
        .unwrap();
    let off = EndpointPatch {
        enabled: Some(false),
        ..EndpointPatch::default()
    };
    a.endpoints().update(&view.id, off).await.unwrap();
    let message = a.webhooks().unwrap().publish_for(
        "proj_a",
        "quota.exhausted",
        serde_json::json!({ "n": 1 }),
    );
    let on_b = b.webhooks().unwrap();
    eventually("B counts the dead letter", async || {
        on_b.dead_letter_count().await.unwrap() == 1
    })
    .await;
    let page = on_b.dead_letter_page(None, 10).await.unwrap();
    assert_eq!((page.count, &*page.items[0].delivery.id), (1, &*message));

    a.endpoints().enable(&view.id).await.unwrap();
    // Known to B and enabled there: a replay B's worker claims is sent, not dead-lettered.
    within_a_second("B has it enabled", async || {
        let snapshot = on_b.endpoints().snapshot();
        snapshot
            .iter()
            .any(|e| e.id() == view.id && e.state().is_enabled())
    })
    .await;
    assert!(on_b.replay_letter(&page.items[0].id()).await.unwrap());
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), &*message);
    assert!(arrival.verifies(&secret, clock.now()));
    assert_eq!(a.webhooks().unwrap().dead_letter_count().await.unwrap(), 0);
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}
