//! The `metrics` feature off the request path: webhook attempts, retries and dead letters from
//! the delivery worker, and the gauge of a shared store's outage from its breaker. Recorders
//! are local to the test's thread; time is tokio's, paused.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::StoreErrorPolicy;
use memorysync_pipeline::limit::{
    Decision, Limits, RateLimitStore, SlidingWindowLimiter, WithFallback,
};
use memorysync_pipeline::store::StoreError;
use memorysync_pipeline::webhook::{
    Endpoint, MemoryWebhookQueue, RetryPolicy, WebhookSecret, WebhookSettings, Webhooks,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn has_line(handle: &PrometheusHandle, line: &str) -> bool {
    handle.render().lines().any(|l| l == line)
}

/// A receiver per host: `ok` answers 200, `gone` 410, `down` 500.
async fn receiver(request: http::Request<Bytes>) -> Result<http::Response<()>, Infallible> {
    let status = match request.uri().host() {
        Some("ok.test") => 200,
        Some("gone.test") => 410,
        _ => 500,
    };
    Ok(http::Response::builder().status(status).body(()).unwrap())
}

#[test]
fn the_delivery_worker_counts_attempts_by_outcome_retries_and_dead_letters() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        paused_runtime().block_on(async {
            let secret = WebhookSecret::generate().unwrap();
            let endpoints = ["ok", "gone", "down"].map(|host| {
                let url = format!("http://{host}.test/hooks").parse().unwrap();
                Endpoint::new(url, secret.clone(), Vec::<String>::new())
            });
            // Two attempts, no wait between: `down` fails, is retried once, fails, is dead.
            let policy = RetryPolicy {
                delays: vec![Duration::ZERO; 2],
                jitter: 0.0,
                request_timeout: Duration::from_secs(1),
            };
            let settings = WebhookSettings::new(endpoints.to_vec(), Environment::Development)
                .with_policy(policy)
                .with_clock(ManualClock::new(Timestamp::from_unix_secs(1_800_000_000)));
            let transport = tower::service_fn(receiver);
            let webhooks = Webhooks::start(MemoryWebhookQueue::new(), transport, settings).unwrap();
            webhooks.send_test();
            for _ in 0..1_000 {
                let stats = webhooks.stats();
                if stats.delivered == 1 && stats.dead_lettered == 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(
                webhooks.shutdown(Duration::from_secs(1)).await.is_empty(),
                "the queue took every event"
            );
        });
    });
    for line in [
        r#"memorysync_webhook_attempts_total{outcome="delivered"} 1"#,
        r#"memorysync_webhook_attempts_total{outcome="gone"} 1"#,
        r#"memorysync_webhook_attempts_total{outcome="failed"} 2"#,
        "memorysync_webhook_retries_total 1",
        "memorysync_webhook_dead_letters_total 2",
    ] {
        assert!(
            has_line(&handle, line),
            "no `{line}` in\n{}",
            handle.render()
        );
    }
}

/// A shared store that answers while `up` is set.
struct Flaky {
    up: Arc<AtomicBool>,
}

impl RateLimitStore for Flaky {
    type Check = Ready<Result<Decision, StoreError>>;

    fn check(&self, _: &str, _: Limits, _: Timestamp) -> Self::Check {
        ready(match self.up.load(Ordering::SeqCst) {
            true => Ok(Decision::UNLIMITED),
            false => Err(StoreError::new("connection refused")),
        })
    }
}

#[test]
fn a_store_outage_sets_its_gauge_to_one_and_its_recovery_back_to_zero() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let (limits, now) = (
        Limits::new(Some(10), None),
        Timestamp::from_unix_secs(1_800_000_000),
    );
    let (unavailable, available) = (
        r#"memorysync_store_unavailable{store="Flaky"} 1"#,
        r#"memorysync_store_unavailable{store="Flaky"} 0"#,
    );
    metrics::with_local_recorder(&recorder, || {
        paused_runtime().block_on(async {
            // Made in the runtime: the breaker reads tokio's (paused) clock.
            let up = Arc::new(AtomicBool::new(false));
            let store: WithFallback<Flaky, SlidingWindowLimiter> =
                WithFallback::new(Flaky { up: up.clone() }, StoreErrorPolicy::Local);
            let decision = store.check("key_a", limits, now).await.unwrap();
            assert!(decision.admitted, "the local limiter answers meanwhile");
            assert!(has_line(&handle, unavailable), "{}", handle.render());

            up.store(true, Ordering::SeqCst);
            // The next probe is due after the breaker's interval; it runs in the background.
            tokio::time::sleep(Duration::from_secs(1)).await;
            store.check("key_a", limits, now).await.unwrap();
            for _ in 0..100 {
                if !store.is_failing() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            assert!(!store.is_failing());
        });
    });
    assert!(has_line(&handle, available), "{}", handle.render());
}
