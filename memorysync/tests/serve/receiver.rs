//! A webhook receiver on loopback that can be told to fail, for the process tests.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::Notify;

/// What a webhook receiver was sent: the message id, the event, and whether it answered 200.
#[derive(Clone, Debug)]
pub(crate) struct Arrival {
    pub(crate) id: String,
    pub(crate) event: Value,
    pub(crate) accepted: bool,
}

/// A webhook receiver on loopback that answers 503 while `failing`.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) failing: Arc<AtomicBool>,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    /// Serves the receiver; returns its URL.
    pub(crate) async fn serve(&self) -> String {
        let receiver = self.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let receiver = receiver.clone();
                async move { receiver.take(&headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn take(&self, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        let accepted = !self.failing.load(Ordering::SeqCst);
        // A delivery without an id or with a body that is not JSON is recorded as such, for
        // the test's assertion to show, rather than panicking inside the receiver.
        let id = headers
            .get("webhook-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let event = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.arrivals.lock().unwrap().push(Arrival {
            id,
            event,
            accepted,
        });
        self.arrived.notify_waiters();
        if accepted {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }

    /// Every arrival so far.
    pub(crate) fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Waits (at most `within`) until `done` holds for the arrivals.
    pub(crate) async fn until(&self, within: Duration, done: impl Fn(&[Arrival]) -> bool) {
        tokio::time::timeout(within, async {
            loop {
                let arrived = self.arrived.notified();
                if done(&self.arrivals()) {
                    return;
                }
                arrived.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("not received in {within:?}: {:?}", self.arrivals()));
    }
}
