//! A webhook left behind by a crashed or stopped process, delivered by the next one to a loopback
//! receiver.

use super::*;

/// A loopback receiver that sends every request's headers and body to a channel.
pub(super) async fn receiver() -> (Uri, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (sender, arrivals) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sender = sender.clone();
            async move {
                let _ = sender.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook").parse().unwrap(), arrivals)
}

pub(super) fn settings(url: &Uri, secret: &WebhookSecret) -> WebhookSettings {
    let endpoint = Endpoint::new(url.clone(), secret.clone(), Vec::<String>::new());
    WebhookSettings::new(vec![endpoint], Environment::Development)
}

/// A transport whose receiver never answers.
fn never_answers()
-> impl tower::Service<Request<Bytes>, Response = Response<()>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    service_fn(|_: Request<Bytes>| std::future::pending::<Result<Response<()>, Infallible>>())
}

/// The first process: publishes one event on a Redis queue and sees its one attempt start
/// (against a receiver that never answers); then, `crash`ing, its runtime is dropped with the
/// claim held, or it shuts down and puts the claim back. Returns the message id.
fn first_process(
    url: &str,
    prefix: &str,
    endpoint: &Uri,
    secret: &WebhookSecret,
    crash: bool,
) -> String {
    let (url, prefix, endpoint, secret) = (
        url.to_owned(),
        prefix.to_owned(),
        endpoint.clone(),
        secret.clone(),
    );
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let id = runtime.block_on(async {
            let options = RedisOptions {
                prefix,
                timeout: TIMEOUT,
            };
            let connection = RedisConnection::connect(&url, options).await.unwrap();
            let queue = RedisWebhookQueue::new(connection);
            let webhooks =
                Webhooks::start(queue, never_answers(), settings(&endpoint, &secret)).unwrap();
            let id = webhooks.publish("memory.created", json!({ "memory": "mem_1" }));
            eventually("the first attempt", || {
                let attempts = webhooks.stats().attempts;
                async move { attempts == 1 }
            })
            .await;
            if !crash {
                assert!(
                    webhooks.shutdown(Duration::ZERO).await.is_empty(),
                    "the queue took every event"
                );
            }
            id.to_string()
        });
        // The process ends here: with a crash, nothing more of it runs.
        drop(runtime);
        id
    })
    .join()
    .unwrap()
}

async fn next_process_delivers(crash: bool) {
    let Some(prefix) = TestPrefix::new(if crash { "crash" } else { "stop" }) else {
        return;
    };
    let secret = WebhookSecret::generate().unwrap();
    let (endpoint, mut arrivals) = receiver().await;

    let id = tokio::task::block_in_place(|| {
        first_process(&prefix.url, &prefix.prefix, &endpoint, &secret, crash)
    });
    let queue = RedisWebhookQueue::new(prefix.connect().await);
    assert_eq!(
        queue.pending().await.unwrap(),
        1,
        "the delivery is still queued"
    );
    let claimed_key = format!("{}webhook:claimed", prefix.prefix);
    assert_eq!(
        prefix.keys().contains(&claimed_key),
        crash,
        "a crashed process leaves its claim held; a stopped one puts it back"
    );
    assert!(arrivals.try_recv().is_err(), "nothing arrived yet");

    let transport = HttpsTransport::new(Environment::Development);
    let webhooks = Webhooks::start(queue.clone(), transport, settings(&endpoint, &secret)).unwrap();
    let (headers, body) = tokio::time::timeout(PATIENCE, arrivals.recv())
        .await
        .expect("the next process delivers the webhook")
        .unwrap();
    assert_eq!(headers["webhook-id"], id.as_str());
    Verifier::new(secret)
        .verify_headers(&headers, &body, SystemClock.now())
        .unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["type"], "memory.created");
    assert_eq!(sent["data"], json!({ "memory": "mem_1" }));
    eventually("the delivery to be finished", || {
        let queue = queue.clone();
        async move { queue.pending().await.unwrap() == 0 }
    })
    .await;
    assert!(
        webhooks.shutdown(Duration::from_secs(1)).await.is_empty(),
        "the queue took every event"
    );
    assert!(arrivals.try_recv().is_err(), "delivered once");
    assert!(webhooks.dead_letters().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_claimed_by_a_crashed_process_is_delivered_by_the_next_one() {
    next_process_delivers(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_left_by_a_stopped_process_is_delivered_by_the_next_one() {
    next_process_delivers(false).await;
}
