//! Quota alerts and test events, delivered to the endpoints subscribed to them.

use super::*;

fn alert(threshold: u8, used: u64) -> QuotaAlert {
    QuotaAlert {
        project: Arc::from("proj_demo"),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
        threshold,
        used,
        limit: 1000,
    }
}

fn assert_envelope(arrival: &Arrival, event_type: &str, data: &Value) {
    let body = arrival.json();
    assert_eq!(body["type"], event_type, "{body}");
    assert_eq!(&body["data"], data, "{body}");
    let timestamp = Timestamp::parse_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
    let now = SystemClock.now();
    assert!(
        (now.unix_millis() - timestamp.unix_millis()).abs() < 60_000,
        "timestamp {timestamp} is not now ({now})"
    );
    let sent_at: i64 = arrival.header(WEBHOOK_TIMESTAMP).parse().unwrap();
    assert!((sent_at - now.unix_millis() / 1000).abs() < 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_alerts_and_test_events_reach_their_subscribers() {
    let everything_secret = WebhookSecret::generate().unwrap();
    let exhausted_secret = WebhookSecret::generate().unwrap();
    let mut everything = Receiver::start([], status(200)).await;
    let mut exhausted_only = Receiver::start([], status(200)).await;
    let (hooks, _) = start(development(
        vec![
            endpoint(&everything.url("/all"), &everything_secret, &[]),
            endpoint(
                &exhausted_only.url("/exhausted"),
                &exhausted_secret,
                &["quota.exhausted"],
            ),
        ],
        fast(&[0, 20], 2_000),
    ));

    let sink = hooks.quota_alert_sink();
    sink(&alert(80, 800));
    sink(&alert(100, 1000));
    let test_id = hooks.send_test();

    let mut by_type: HashMap<String, Arrival> = HashMap::new();
    for _ in 0..3 {
        let arrival = everything.next().await;
        verify(&everything_secret, &arrival);
        let event_type = arrival.json()["type"].as_str().unwrap().to_owned();
        assert!(by_type.insert(event_type, arrival).is_none());
    }
    let data = |threshold: u8, used: u64| {
        json!({
            "project": "proj_demo",
            "operation": "add",
            "month": "2027-01",
            "threshold": threshold,
            "used": used,
            "limit": 1000,
        })
    };
    assert_envelope(
        &by_type["quota.threshold"],
        "quota.threshold",
        &data(80, 800),
    );
    assert_envelope(
        &by_type["quota.exhausted"],
        "quota.exhausted",
        &data(100, 1000),
    );
    let test_event = &by_type["webhook.test"];
    assert_eq!(test_event.id(), &*test_id);
    assert!(test_event.json()["data"]["message"].is_string());

    let arrival = exhausted_only.next().await;
    verify(&exhausted_secret, &arrival);
    assert_envelope(&arrival, "quota.exhausted", &data(100, 1000));
    assert_eq!(arrival.path, "/exhausted");
    assert_eq!(
        arrival.id(),
        by_type["quota.exhausted"].id(),
        "one message id per event, across endpoints"
    );
    // Each endpoint signs with its own secret.
    assert!(
        Verifier::new(everything_secret.clone())
            .verify_headers(&arrival.headers, &arrival.body, SystemClock.now())
            .is_err()
    );

    settled(&hooks, 4, 0).await;
    assert_eq!(
        hooks.stats().published,
        4,
        "3 + 1: no threshold or test event for /exhausted"
    );
    assert_eq!(exhausted_only.requests().len(), 1);
    assert!(exhausted_only.arrivals.try_recv().is_err());
}
