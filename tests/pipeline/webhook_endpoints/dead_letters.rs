//! Dead letters: the queue's contract on memory and the embedded store (ids stable across a
//! reopen), and through a deployment: counted, listed newest first a page at a time, replayed
//! one by id or all since a time, and delivered once their endpoint takes them again.

use std::time::Duration;

use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::webhook::endpoints::{EndpointPatch, SecretKey};
use memorysync_pipeline::webhook::{MemoryWebhookQueue, PageError, WebhookSecret};

use super::*;
use crate::common::suites::dead_letter_suite;

#[tokio::test]
async fn the_memory_queue_keeps_the_dead_letter_contract() {
    dead_letter_suite(&MemoryWebhookQueue::new(), T0).await;
}

#[cfg(feature = "embedded")]
#[tokio::test]
async fn the_embedded_queue_keeps_the_dead_letter_contract_and_its_ids_across_a_reopen() {
    use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
    use memorysync_pipeline::webhook::{DeadLetter, Delivery, WebhookQueue};

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    dead_letter_suite(&store.webhook_queue(), T0).await;
    let queue = store.webhook_queue();
    let delivery = Delivery {
        id: "msg_kept".into(),
        endpoint: Some("ep_a".into()),
        url: "https://hooks.example.com/in".into(),
        event_type: "webhook.test".into(),
        body: bytes::Bytes::from_static(b"{}"),
        created_at: T0,
        attempts: 1,
        due_at: T0,
    };
    queue.push(delivery.clone()).await.unwrap();
    queue.claim_due(T0, 1).await.unwrap();
    let letter = DeadLetter {
        delivery,
        reason: "status 500".into(),
        at: T0,
    };
    let id = letter.id();
    queue.dead_letter(letter).await.unwrap();
    store.close().await;
    drop((queue, store));

    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    let queue = store.webhook_queue();
    assert_eq!(queue.dead_letters().await.unwrap()[0].id(), id);
    assert!(queue.replay_letter(&id, T0).await.unwrap());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_lists_counts_and_replays_its_dead_letters() {
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let deployment = start(
        &config("", true, &[]),
        options(Some(&key), &WebhookSecret::generate().unwrap(), &clock),
    )
    .await;
    let mut hook = Hook::start().await;
    let endpoints = deployment.endpoints();
    let (view, secret) = endpoints
        .create(new_endpoint(None, &hook.url("/in")))
        .await
        .unwrap();
    let off = EndpointPatch {
        enabled: Some(false),
        ..EndpointPatch::default()
    };
    endpoints.update(&view.id, off).await.unwrap();

    // Three events while it is disabled, a minute apart: three dead letters.
    let hooks = deployment.webhooks().unwrap();
    let mut messages = Vec::new();
    for n in 0..3 {
        messages.push(publish(&deployment, "proj_a", n));
        dead_letters(&deployment, messages.len()).await;
        clock.advance(Duration::from_secs(60));
    }
    assert_eq!(hooks.dead_letter_count().await.unwrap(), 3);

    // Newest first, two to a page.
    let first = hooks.dead_letter_page(None, 2).await.unwrap();
    assert_eq!(first.count, 3);
    let ids: Vec<&str> = first.items.iter().map(|l| &*l.delivery.id).collect();
    assert_eq!(ids, [messages[2].as_str(), messages[1].as_str()]);
    let cursor = first.next_cursor.clone().unwrap();
    let second = hooks.dead_letter_page(Some(&cursor), 2).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(&*second.items[0].delivery.id, messages[0].as_str());
    assert_eq!(second.next_cursor, None);
    let bad = hooks.dead_letter_page(Some("nonsense"), 2).await;
    assert_eq!(bad, Err(PageError::BadCursor));

    // Enabled again: the middle one replayed by its id arrives, signed.
    endpoints.enable(&view.id).await.unwrap();
    let middle = first.items[1].id();
    assert!(hooks.replay_letter(&middle).await.unwrap());
    assert!(!hooks.replay_letter(&middle).await.unwrap());
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), messages[1]);
    assert!(arrival.verifies(&secret, clock.now()));

    // All since the newest one's time: only it.
    let newest_at = first.items[0].at;
    assert_eq!(hooks.replay_since(newest_at).await.unwrap(), 1);
    assert_eq!(hook.next().await.id(), messages[2]);
    assert_eq!(hooks.dead_letter_count().await.unwrap(), 1);
    assert_eq!(hooks.replay_since(T0).await.unwrap(), 1);
    assert_eq!(hook.next().await.id(), messages[0]);
    assert_eq!(hooks.dead_letter_count().await.unwrap(), 0);
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}
