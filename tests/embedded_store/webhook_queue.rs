//! The webhook queue and its dead letters across restarts.

use std::sync::Arc;

use bytes::Bytes;
use memorysync_pipeline::webhook::{DeadLetter, Delivery, WebhookQueue};

use crate::{now, open};

fn delivery(id: &str) -> Delivery {
    Delivery {
        id: Arc::from(id),
        endpoint: None,
        url: Arc::from("https://hooks.example.com/in"),
        event_type: Arc::from("quota.threshold"),
        body: Bytes::from_static(br#"{"threshold":75}"#),
        created_at: now(),
        attempts: 0,
        due_at: now(),
    }
}

#[tokio::test]
async fn waiting_claimed_and_dead_messages_survive_a_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let queue = store.webhook_queue();
        for id in ["msg_1", "msg_2", "msg_3", "msg_4"] {
            queue.push(delivery(id)).await.unwrap();
        }
        let claimed = queue.claim_due(now(), 3).await.unwrap();
        assert_eq!(claimed.len(), 3);
        queue.finish("msg_1", &claimed[0].url).await.unwrap();
        let letter = DeadLetter {
            delivery: claimed[1].clone(),
            reason: "410 Gone".into(),
            at: now(),
        };
        queue.dead_letter(letter).await.unwrap();
        // msg_3 stays claimed, msg_4 waiting, when the process goes.
    }
    let store = open(dir.path());
    let queue = store.webhook_queue();
    assert_eq!(
        queue.pending().await.unwrap(),
        2,
        "msg_3 is delivered again"
    );
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (&*dead[0].delivery.id, dead[0].reason.as_str()),
        ("msg_2", "410 Gone")
    );
    let ids: Vec<String> = queue
        .claim_due(now(), 10)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    assert_eq!(ids, ["msg_3", "msg_4"]);
    assert!(
        queue
            .replay("msg_2", "https://hooks.example.com/in", now())
            .await
            .unwrap()
    );
    drop(queue);
    drop(store);
    let store = open(dir.path());
    let queue = store.webhook_queue();
    assert!(queue.dead_letters().await.unwrap().is_empty());
    assert_eq!(
        queue.pending().await.unwrap(),
        3,
        "the replayed message is waiting"
    );
}
