//! How the worker reads a receiver's answers: retries keep one `webhook-id`, 410 Gone disables
//! the endpoint, a receiver that never answers times out, redirects are not followed, and
//! `Retry-After` is honoured within `[delay, 2 × delay]`.

use super::*;

// ---------------------------------------------------------------------------------------------
// 1. Retries keep one webhook-id.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_the_event_once_under_one_id() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([status(500), status(503)], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20, 20], 2_000),
    ));

    let id = hooks.publish("memory.added", json!({ "memory": "mem_1" }));
    let attempts = [
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    for attempt in &attempts {
        verify(&secret, attempt);
        assert_eq!(attempt.id(), &*id);
        assert_eq!(attempt.path, "/hook");
        assert_eq!(
            attempt.body, attempts[0].body,
            "the body is the same on every attempt"
        );
    }
    assert_eq!(attempts[0].json()["data"], json!({ "memory": "mem_1" }));
    settled(&hooks, 1, 0).await;

    assert_eq!(
        hooks.stats(),
        WebhookStats {
            published: 1,
            backlog: 0,
            refused: 0,
            attempts: 3,
            delivered: 1,
            failures: 2,
            retries: 2,
            dead_lettered: 0,
        }
    );
    let id = id.to_string();
    assert_eq!(
        receiver.answered(),
        vec![(id.clone(), 500), (id.clone(), 503), (id, 200)],
        "exactly one successful delivery"
    );
    assert!(hooks.dead_letters().await.unwrap().is_empty());
    assert_eq!(hooks.pending().await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// 2. 410 Gone disables the endpoint.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_and_later_events_are_dead_lettered_unsent() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], status(410)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20, 20], 2_000),
    ));
    assert!(!hooks.is_disabled(&url));

    let first = hooks.publish("memory.added", json!({ "n": 1 }));
    let arrival = receiver.next().await;
    verify(&secret, &arrival);
    assert_eq!(arrival.id(), &*first);
    settled(&hooks, 0, 1).await;

    assert!(hooks.is_disabled(&url));
    let letter = only_dead_letter(&hooks).await;
    assert_eq!(letter.delivery.id, first);
    assert_eq!(&*letter.delivery.url, url);
    assert!(letter.reason.contains("410"), "{}", letter.reason);
    assert_eq!(hooks.stats().retries, 0, "a 410 is not retried");

    let second = hooks.publish("memory.added", json!({ "n": 2 }));
    settled(&hooks, 0, 2).await;
    let letters = hooks.dead_letters().await.unwrap();
    let later = letters
        .iter()
        .find(|l| l.delivery.id == second)
        .expect("the second event is a dead letter");
    assert!(later.reason.contains("410"), "{}", later.reason);
    assert_eq!(
        receiver.requests().len(),
        1,
        "nothing sent to a disabled endpoint"
    );
    assert!(receiver.arrivals.try_recv().is_err());
    assert_eq!(hooks.stats().attempts, 1);
}

// ---------------------------------------------------------------------------------------------
// 3. A receiver that never answers.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_without_an_answer_times_out_and_is_retried() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([Reply::Hang], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20], 100),
    ));

    let id = hooks.publish("memory.added", json!({}));
    let hung = receiver.next().await;
    let retried = receiver.next().await;
    verify(&secret, &hung);
    verify(&secret, &retried);
    assert_eq!(hung.id(), &*id);
    assert_eq!(retried.id(), &*id);
    assert!(
        retried.at.duration_since(hung.at) >= Duration::from_millis(95),
        "retried after {:?}, before the 100 ms timeout",
        retried.at.duration_since(hung.at)
    );
    settled(&hooks, 1, 0).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (2, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_reason_states_the_timeout() {
    let secret = WebhookSecret::generate().unwrap();
    let mut receiver = Receiver::start([], Reply::Hang).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0], 100),
    ));
    hooks.publish("memory.added", json!({}));
    verify(&secret, &receiver.next().await);
    settled(&hooks, 0, 1).await;
    let reason = only_dead_letter(&hooks).await.reason;
    assert!(!reason.contains(" 0 s"), "{reason}");
    assert!(reason.contains("100") || reason.contains("0.1"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// 4. Redirects.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let secret = WebhookSecret::generate().unwrap();
    let target = Receiver::start([], status(200)).await;
    let redirect = Reply::Status(302, vec![("location", target.url("/elsewhere"))]);
    let mut receiver = Receiver::start([redirect], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 20], 2_000),
    ));

    let id = hooks.publish("memory.added", json!({}));
    let redirected = receiver.next().await;
    let retried = receiver.next().await;
    for arrival in [&redirected, &retried] {
        verify(&secret, arrival);
        assert_eq!(arrival.id(), &*id);
        assert_eq!(
            arrival.path, "/hook",
            "the retry goes to the endpoint, not the Location"
        );
    }
    settled(&hooks, 1, 0).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (2, 1, 1));
    assert_eq!(target.connections(), 0, "the Location was not followed");
    assert!(target.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// 5. Retry-After.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_below_the_delay_waits_the_delay() {
    let secret = WebhookSecret::generate().unwrap();
    let slow_down = Reply::Status(503, vec![("retry-after", "0".to_owned())]);
    let mut receiver = Receiver::start([slow_down], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 200], 2_000),
    ));

    let id = hooks.publish("memory.added", json!({}));
    let first = receiver.next().await;
    let second = receiver.next().await;
    verify(&secret, &first);
    verify(&secret, &second);
    assert_eq!((first.id(), second.id()), (&*id, &*id));
    let gap = second.at.duration_since(first.at);
    assert!(
        gap >= Duration::from_millis(190) && gap < Duration::from_secs(2),
        "second attempt {gap:?} after the first"
    );
    settled(&hooks, 1, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_above_twice_the_delay_is_capped() {
    let secret = WebhookSecret::generate().unwrap();
    let an_hour = Reply::Status(503, vec![("retry-after", "3600".to_owned())]);
    let mut receiver = Receiver::start([an_hour], status(200)).await;
    let url = receiver.url("/hook");
    let (hooks, _) = start(development(
        vec![endpoint(&url, &secret, &[])],
        fast(&[0, 100], 2_000),
    ));

    hooks.publish("memory.added", json!({}));
    let first = receiver.next().await;
    let second = receiver.next().await;
    let gap = second.at.duration_since(first.at);
    // Capped at 2 × 100 ms; the worker looks for due deliveries every 250 ms.
    assert!(
        gap >= Duration::from_millis(95) && gap < Duration::from_secs(2),
        "second attempt {gap:?} after the first"
    );
    settled(&hooks, 1, 0).await;
}
