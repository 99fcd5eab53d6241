//! The suites every backend passes: endpoint records, the attempt log, the dead letters.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::store::RecordOwner;
use memorysync_pipeline::webhook::endpoints::{EndpointRecord, EndpointState, EndpointStore};

use super::hooks::eventually;

/// The contract of an `EndpointStore`: writes under the revision read, removals likewise, and a
/// generation that moves with every write and only then.
pub(crate) async fn endpoint_store_suite<S: EndpointStore>(store: &S, at: Timestamp) {
    let events = vec!["quota.exhausted".to_owned()];
    let mut record =
        EndpointRecord::new("ep_a", RecordOwner::Api, "https://a.example/in", events, at);
    record.projects = vec!["proj_a".into()];
    let start = store.generation().await.unwrap();

    assert!(store.put(&record, 0).await.unwrap(), "created");
    assert!(
        !store.put(&record, 0).await.unwrap(),
        "a second create loses"
    );
    let after_create = store.generation().await.unwrap();
    assert_ne!(after_create, start);
    assert_eq!(store.get("ep_a").await.unwrap(), Some(record.clone()));
    assert_eq!(store.get("ep_b").await.unwrap(), None);

    let mut changed = record.clone();
    changed.url = "https://b.example/in".into();
    changed.state = EndpointState::DisabledGone;
    changed.revision = 2;
    assert!(
        !store.put(&changed, 2).await.unwrap(),
        "a stale revision loses"
    );
    assert_eq!(
        store.generation().await.unwrap(),
        after_create,
        "a lost write moves nothing"
    );
    assert!(store.put(&changed, 1).await.unwrap());
    assert_eq!(store.all().await.unwrap(), vec![changed.clone()]);
    let after_change = store.generation().await.unwrap();
    assert_ne!(after_change, after_create);

    assert!(
        !store.remove("ep_a", 1).await.unwrap(),
        "a stale removal loses"
    );
    assert!(!store.remove("ep_b", 0).await.unwrap());
    assert!(store.remove("ep_a", 2).await.unwrap());
    assert!(!store.remove("ep_a", 2).await.unwrap(), "gone already");
    assert_eq!(store.get("ep_a").await.unwrap(), None);
    assert_ne!(store.generation().await.unwrap(), after_change);
}

/// The contract of an `AttemptLog`, on a log that starts empty: newest first, the filters, and
/// a cursor that walks every attempt once, in order. Writes may land in the background, so it
/// first waits until the log shows all of them.
pub(crate) async fn attempt_log_suite<L>(log: &L, at: Timestamp)
where
    L: memorysync_pipeline::webhook::attempt_log::AttemptLog,
{
    use memorysync_pipeline::webhook::attempt_log::{
        AttemptQuery, AttemptRecord, PageError, StatusFilter,
    };
    // 30 attempts, a millisecond apart: endpoint a gets 200s, b alternates 500 and no answer.
    for n in 0..30u16 {
        let (endpoint, status, error) = match n % 3 {
            0 | 1 => ("ep_a", Some(200), None),
            _ if n % 2 == 0 => ("ep_b", Some(500), Some("status 500".to_owned())),
            _ => ("ep_b", None, Some("no answer within 15000 ms".to_owned())),
        };
        let when = at.saturating_add(Duration::from_millis(u64::from(n)));
        let attempt = AttemptRecord::new(
            when,
            endpoint,
            format!("msg_{n}"),
            "quota.exhausted",
            status,
            u64::from(n),
            error,
        );
        log.record(attempt).await.unwrap();
    }
    let everything = AttemptQuery {
        limit: 1000,
        ..AttemptQuery::default()
    };
    eventually("the log shows every attempt", async || {
        log.query(&everything).await.unwrap().items.len() == 30
    })
    .await;

    let all = log.query(&everything).await.unwrap();
    let messages: Vec<&str> = all.items.iter().map(|a| &*a.message).collect();
    let expected: Vec<String> = (0..30).rev().map(|n| format!("msg_{n}")).collect();
    assert_eq!(messages, expected, "newest first");
    assert_eq!(all.next_cursor, None);

    // Pages of 7 walk everything once, in order.
    let mut walked = Vec::new();
    let mut query = AttemptQuery {
        limit: 7,
        ..AttemptQuery::default()
    };
    loop {
        let page = log.query(&query).await.unwrap();
        assert!(page.items.len() <= 7);
        walked.extend(page.items.iter().map(|a| a.message.to_string()));
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(walked, expected);

    let count = |status: Option<StatusFilter>, endpoint: Option<&str>| {
        let query = AttemptQuery {
            status,
            endpoint: endpoint.map(str::to_owned),
            limit: 1000,
            ..AttemptQuery::default()
        };
        async move { log.query(&query).await.unwrap().items }
    };
    assert_eq!(count(Some(StatusFilter::Delivered), None).await.len(), 20);
    let failed = count(Some(StatusFilter::Failed), None).await;
    assert_eq!(failed.len(), 10);
    assert!(
        failed
            .iter()
            .all(|a| &*a.endpoint == "ep_b" && a.error.is_some())
    );
    assert_eq!(count(Some(StatusFilter::Code(500)), None).await.len(), 5);
    assert_eq!(count(Some(StatusFilter::Code(503)), None).await.len(), 0);
    assert_eq!(count(None, Some("ep_b")).await.len(), 10);
    assert_eq!(
        count(Some(StatusFilter::Delivered), Some("ep_b"))
            .await
            .len(),
        0
    );
    let newest = &all.items[0];
    assert_eq!(
        (newest.latency_ms, newest.at),
        (29, at.saturating_add(Duration::from_millis(29)))
    );

    let bad = AttemptQuery {
        cursor: Some("not-a-cursor".into()),
        ..AttemptQuery::default()
    };
    assert_eq!(log.query(&bad).await.unwrap_err(), PageError::BadCursor);
}

/// The dead letters of a `WebhookQueue` that starts empty: counted, each with a stable id,
/// replayed one by id (once) or all since a time, back in the queue with fresh attempts.
/// Letters of deliveries that name their endpoint and of one that names only a URL alike.
pub(crate) async fn dead_letter_suite<Q>(queue: &Q, at: Timestamp)
where
    Q: memorysync_pipeline::webhook::WebhookQueue,
{
    use memorysync_pipeline::webhook::{DeadLetter, Delivery};

    let delivery = |id: &str, endpoint: Option<&str>| Delivery {
        id: id.into(),
        endpoint: endpoint.map(Into::into),
        url: "https://hooks.example.com/in".into(),
        event_type: "quota.exhausted".into(),
        body: Bytes::from_static(b"{}"),
        created_at: at,
        attempts: 3,
        due_at: at,
    };
    let deliveries = [
        delivery("msg_1", Some("ep_a")),
        delivery("msg_2", Some("ep_b")),
        delivery("msg_3", None),
    ];
    for d in &deliveries {
        queue.push(d.clone()).await.unwrap();
    }
    assert_eq!(queue.claim_due(at, 10).await.unwrap().len(), 3);
    for (n, d) in deliveries.iter().enumerate() {
        let letter = DeadLetter {
            delivery: d.clone(),
            reason: "status 500".into(),
            at: at.saturating_add(Duration::from_secs(n as u64 + 1)),
        };
        queue.dead_letter(letter).await.unwrap();
    }
    assert_eq!(queue.dead_letter_count().await.unwrap(), 3);
    let ids = |letters: Vec<DeadLetter>| {
        let mut ids: Vec<(String, String)> = letters
            .iter()
            .map(|l| (l.delivery.id.to_string(), l.id()))
            .collect();
        ids.sort();
        ids
    };
    let first = ids(queue.dead_letters().await.unwrap());
    assert_eq!(first, ids(queue.dead_letters().await.unwrap()), "stable");
    assert!(
        first
            .iter()
            .all(|(_, id)| id.starts_with("dl_") && id.len() == 35)
    );
    assert_eq!(
        first
            .iter()
            .map(|(_, id)| id)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        3
    );

    let later = at.saturating_add(Duration::from_secs(10));
    assert!(
        !queue
            .replay_letter("dl_00000000000000000000000000000000", later)
            .await
            .unwrap()
    );
    let second = &first[1].1;
    assert!(queue.replay_letter(second, later).await.unwrap());
    assert!(!queue.replay_letter(second, later).await.unwrap(), "once");
    assert_eq!(queue.dead_letter_count().await.unwrap(), 2);
    let back = queue.claim_due(later, 10).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(
        (&*back[0].id, back[0].attempts, back[0].due_at),
        ("msg_2", 0, later)
    );
    assert_eq!(back[0].endpoint.as_deref(), Some("ep_b"));

    // Dead-lettered at +3 s: msg_3 only; then from the start: msg_1.
    let since = at.saturating_add(Duration::from_secs(3));
    assert_eq!(queue.replay_since(since, later).await.unwrap(), 1);
    assert_eq!(queue.replay_since(at, later).await.unwrap(), 1);
    assert_eq!(queue.dead_letter_count().await.unwrap(), 0);
    let mut back: Vec<String> = queue
        .claim_due(later, 10)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    back.sort();
    assert_eq!(back, ["msg_1", "msg_3"]);
    for d in &deliveries {
        queue.finish(&d.id, d.target()).await.unwrap();
    }
    assert_eq!(queue.pending().await.unwrap(), 0);
}
