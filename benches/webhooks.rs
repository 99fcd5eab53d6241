//! Signed webhook deliveries per second to a receiver on loopback, with nothing lost.
//!
//! `cargo bench --features webhook-client --bench webhooks`; figures go into BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use memorysync_pipeline::Environment;
use memorysync_pipeline::webhook::{
    Endpoint, HttpsTransport, MemoryWebhookQueue, WebhookSecret, WebhookSettings, Webhooks,
};

const DELIVERIES: u64 = 50_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let app = Router::new().route(
            "/hook",
            post(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        for concurrency in [16, 64] {
            received.store(0, Ordering::Relaxed);
            let endpoint = Endpoint::new(url.parse().unwrap(), WebhookSecret::generate().unwrap(), ["bench"]);
            let settings = WebhookSettings::new(vec![endpoint], Environment::Development).with_concurrency(concurrency);
            let webhooks = Webhooks::start(
                MemoryWebhookQueue::new(),
                HttpsTransport::new(Environment::Development),
                settings,
            )
            .unwrap();
            let start = Instant::now();
            for i in 0..DELIVERIES {
                webhooks.publish("bench", serde_json::json!({ "n": i }));
            }
            while webhooks.stats().delivered < DELIVERIES {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let elapsed = start.elapsed();
            assert!(
                webhooks.shutdown(Duration::from_secs(1)).await.is_empty(),
                "the queue took every event"
            );
            let stats = webhooks.stats();
            assert_eq!(received.load(Ordering::Relaxed), DELIVERIES, "the receiver got every delivery");
            assert_eq!((stats.failures, stats.dead_lettered), (0, 0));
            println!(
                "concurrency {concurrency:>3}: {DELIVERIES} signed deliveries in {:.3} s = {:.0} deliveries/s (attempts {}, failures {}, dead letters {})",
                elapsed.as_secs_f64(),
                DELIVERIES as f64 / elapsed.as_secs_f64(),
                stats.attempts,
                stats.failures,
                stats.dead_lettered
            );
        }
    });
}
