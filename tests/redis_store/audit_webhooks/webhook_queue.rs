//! One webhook queue suite, run over `MemoryWebhookQueue` and `RedisWebhookQueue`, and what only
//! the Redis queue has: its keys, and claims taken back from a process gone.

use super::*;

fn delivery(id: &str, due: Timestamp) -> Delivery {
    Delivery {
        id: Arc::from(id),
        endpoint: None,
        url: Arc::from("https://hooks.example.com/in"),
        event_type: Arc::from("memory.created"),
        // Not UTF-8 on purpose: the body is bytes.
        body: Bytes::from(vec![b'{', 0xff, 0x00, b'}', b'|']),
        created_at: T0,
        attempts: 0,
        due_at: due,
    }
}

fn ids(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| &*d.id).collect()
}

async fn claims_due_deliveries_oldest_due_first<Q: WebhookQueue>(queue: Q) {
    let pushed = [
        delivery("msg_a", at(3_000)),
        delivery("msg_b", at(1_000)),
        delivery("msg_c", at(2_000)),
        delivery("msg_late", at(100_000)),
    ];
    for d in &pushed {
        queue.push(d.clone()).await.unwrap();
    }
    assert_eq!(queue.pending().await.unwrap(), 4);
    let first = queue.claim_due(at(10_000), 2).await.unwrap();
    assert_eq!(ids(&first), ["msg_b", "msg_c"]);
    assert_eq!(first[0], pushed[1], "a delivery comes back as it went in");
    let second = queue.claim_due(at(10_000), 10).await.unwrap();
    assert_eq!(second, std::slice::from_ref(&pushed[0]));
    assert!(queue.claim_due(at(10_000), 10).await.unwrap().is_empty());
    assert!(queue.claim_due(at(200_000), 0).await.unwrap().is_empty());
    assert_eq!(queue.next_due().await.unwrap(), Some(at(100_000)));
    assert_eq!(queue.pending().await.unwrap(), 4);
}

async fn does_not_claim_what_is_not_yet_due<Q: WebhookQueue>(queue: Q) {
    assert_eq!(queue.next_due().await.unwrap(), None);
    queue.push(delivery("msg_soon", at(60_000))).await.unwrap();
    assert!(queue.claim_due(at(59_999), 10).await.unwrap().is_empty());
    assert_eq!(queue.next_due().await.unwrap(), Some(at(60_000)));
    let claimed = queue.claim_due(at(60_000), 10).await.unwrap();
    assert_eq!(ids(&claimed), ["msg_soon"]);
    assert_eq!(
        queue.next_due().await.unwrap(),
        None,
        "a claimed delivery is not waiting"
    );
}

async fn a_rescheduled_delivery_waits_for_its_new_due_time<Q: WebhookQueue>(queue: Q) {
    queue.push(delivery("msg_r", at(0))).await.unwrap();
    let mut claimed = queue.claim_due(at(0), 1).await.unwrap().remove(0);
    claimed.attempts = 1;
    claimed.due_at = at(5_000);
    queue.reschedule(claimed.clone()).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 1);
    assert!(queue.claim_due(at(4_999), 1).await.unwrap().is_empty());
    assert_eq!(queue.next_due().await.unwrap(), Some(at(5_000)));
    assert_eq!(queue.claim_due(at(5_000), 1).await.unwrap(), [claimed]);
}

async fn a_dead_letter_is_listed_and_replayed_with_fresh_attempts<Q: WebhookQueue>(queue: Q) {
    queue.push(delivery("msg_d", at(0))).await.unwrap();
    let mut claimed = queue.claim_due(at(0), 1).await.unwrap().remove(0);
    claimed.attempts = 8;
    let letter = DeadLetter {
        delivery: claimed,
        reason: "status 500".into(),
        at: at(1_000),
    };
    queue.dead_letter(letter.clone()).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 0);
    assert_eq!(
        queue.dead_letters().await.unwrap(),
        std::slice::from_ref(&letter)
    );
    assert!(
        !queue
            .replay("msg_other", &letter.delivery.url, at(7_000))
            .await
            .unwrap()
    );
    assert!(
        queue
            .replay("msg_d", &letter.delivery.url, at(7_000))
            .await
            .unwrap()
    );
    assert!(queue.dead_letters().await.unwrap().is_empty());
    assert!(
        !queue
            .replay("msg_d", &letter.delivery.url, at(7_000))
            .await
            .unwrap()
    );
    assert_eq!(queue.pending().await.unwrap(), 1);
    let replayed = queue.claim_due(at(7_000), 1).await.unwrap().remove(0);
    assert_eq!((replayed.attempts, replayed.due_at), (0, at(7_000)));
    assert_eq!(replayed.body, letter.delivery.body);
}

async fn release_claimed_returns_every_claim_due_now<Q: WebhookQueue>(queue: Q) {
    queue.push(delivery("msg_1", at(0))).await.unwrap();
    queue.push(delivery("msg_2", at(0))).await.unwrap();
    assert_eq!(queue.claim_due(at(0), 10).await.unwrap().len(), 2);
    assert!(queue.claim_due(at(0), 10).await.unwrap().is_empty());
    assert_eq!(queue.release_claimed(at(1_000)).await.unwrap(), 2);
    assert_eq!(queue.next_due().await.unwrap(), Some(at(1_000)));
    let again = queue.claim_due(at(1_000), 10).await.unwrap();
    let mut again_ids = ids(&again);
    again_ids.sort_unstable();
    assert_eq!(again_ids, ["msg_1", "msg_2"]);
    assert!(again.iter().all(|d| d.due_at == at(1_000)));
    for d in &again {
        queue.finish(&d.id, &d.url).await.unwrap();
    }
    assert_eq!(queue.pending().await.unwrap(), 0);
    assert_eq!(queue.release_claimed(at(2_000)).await.unwrap(), 0);
}

async fn pending_counts_waiting_and_claimed<Q: WebhookQueue>(queue: Q) {
    for id in ["msg_x", "msg_y", "msg_z"] {
        queue.push(delivery(id, at(0))).await.unwrap();
    }
    assert_eq!(queue.pending().await.unwrap(), 3);
    let claimed = queue.claim_due(at(0), 2).await.unwrap();
    assert_eq!(
        queue.pending().await.unwrap(),
        3,
        "claimed ones are still pending"
    );
    queue.finish(&claimed[0].id, &claimed[0].url).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 2);
    let letter = DeadLetter {
        delivery: claimed[1].clone(),
        reason: "410 Gone: endpoint disabled".into(),
        at: at(0),
    };
    queue.dead_letter(letter).await.unwrap();
    assert_eq!(queue.pending().await.unwrap(), 1);
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
}

/// One case of the suite as two tests: over the in-memory queue, and over Redis.
macro_rules! queue_suite {
    ($($case:ident),* $(,)?) => {
        mod memory_queue {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(MemoryWebhookQueue::new()).await;
                }
            )*
        }
        mod redis_queue {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(prefix) = TestPrefix::new(stringify!($case)) else { return };
                    super::$case(RedisWebhookQueue::new(prefix.connect().await)).await;
                }
            )*
        }
    };
}

queue_suite!(
    claims_due_deliveries_oldest_due_first,
    does_not_claim_what_is_not_yet_due,
    a_rescheduled_delivery_waits_for_its_new_due_time,
    a_dead_letter_is_listed_and_replayed_with_fresh_attempts,
    release_claimed_returns_every_claim_due_now,
    pending_counts_waiting_and_claimed,
);

#[tokio::test]
async fn the_redis_queue_stores_what_its_docs_say_where_they_say() {
    let Some(prefix) = TestPrefix::new("layout") else {
        return;
    };
    let queue = RedisWebhookQueue::new(prefix.connect().await);
    queue.push(delivery("msg_k", at(0))).await.unwrap();
    let mut keys = prefix.keys();
    keys.sort();
    let expected: Vec<String> = ["webhook:deliveries", "webhook:waiting"]
        .iter()
        .map(|k| format!("{}{k}", prefix.prefix))
        .collect();
    assert_eq!(keys, expected);
    let claimed = queue.claim_due(at(0), 1).await.unwrap();
    queue.finish(&claimed[0].id, &claimed[0].url).await.unwrap();
    assert!(
        prefix.keys().is_empty(),
        "a finished delivery leaves nothing behind"
    );
}

#[tokio::test]
async fn claims_older_than_the_lease_go_back_to_the_queue_and_newer_ones_stay() {
    let Some(prefix) = TestPrefix::new("stale") else {
        return;
    };
    let queue = RedisWebhookQueue::new(prefix.connect().await);
    // Claimed at 1 s and at 5 s by workers that then died.
    queue.push(delivery("msg_old", at(0))).await.unwrap();
    assert_eq!(
        ids(&queue.claim_due(at(1_000), 5).await.unwrap()),
        ["msg_old"]
    );
    queue.push(delivery("msg_new", at(0))).await.unwrap();
    assert_eq!(
        ids(&queue.claim_due(at(5_000), 5).await.unwrap()),
        ["msg_new"]
    );

    assert_eq!(queue.release_stale(at(999), at(6_000)).await.unwrap(), 0);
    assert_eq!(
        queue.release_stale(at(1_000), at(6_000)).await.unwrap(),
        1,
        "at the cut-off itself"
    );
    assert_eq!(queue.pending().await.unwrap(), 2, "nothing lost");
    assert!(
        queue.claim_due(at(5_999), 5).await.unwrap().is_empty(),
        "due when released"
    );
    assert_eq!(
        ids(&queue.claim_due(at(6_000), 5).await.unwrap()),
        ["msg_old"]
    );
    // The newer claim stays held by its worker.
    assert_eq!(queue.release_stale(at(4_999), at(7_000)).await.unwrap(), 0);
}

#[tokio::test]
async fn the_memory_queue_has_no_other_process_to_take_over_from() {
    let queue = MemoryWebhookQueue::new();
    queue.push(delivery("msg_a", at(0))).await.unwrap();
    assert_eq!(queue.claim_due(at(0), 1).await.unwrap().len(), 1);
    assert_eq!(
        queue.release_stale(at(10_000), at(10_000)).await.unwrap(),
        0
    );
    assert!(
        queue.claim_due(at(10_000), 1).await.unwrap().is_empty(),
        "its own claim stays"
    );
}
