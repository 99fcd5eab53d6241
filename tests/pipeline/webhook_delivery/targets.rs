//! HTTPS with a private root (and without it), and the production rules on URLs and on resolved
//! addresses.

use super::*;

// ---------------------------------------------------------------------------------------------
// 8. HTTPS.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_root_delivers_a_verified_event() {
    let secret = WebhookSecret::generate().unwrap();
    let (acceptor, certificate) = localhost_tls();
    let mut receiver = Receiver::start_tls(acceptor, [], status(200)).await;
    let url = format!("https://localhost:{}/hook", receiver.addr.port());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).unwrap();
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::with_roots(Environment::Development, roots),
        development(vec![endpoint(&url, &secret, &[])], fast(&[0, 20], 5_000)),
    )
    .unwrap();

    let id = hooks.publish("memory.added", json!({ "secure": true }));
    let arrival = receiver.next().await;
    verify(&secret, &arrival);
    assert_eq!(arrival.id(), &*id);
    assert_eq!(arrival.path, "/hook");
    assert_eq!(arrival.json()["data"], json!({ "secure": true }));
    settled(&hooks, 1, 0).await;
    assert_eq!(hooks.stats().failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_an_untrusted_certificate_fails_and_is_dead_lettered() {
    let secret = WebhookSecret::generate().unwrap();
    let (acceptor, _) = localhost_tls();
    let receiver = Receiver::start_tls(acceptor, [], status(200)).await;
    let url = format!("https://localhost:{}/hook", receiver.addr.port());
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::with_roots(Environment::Development, rustls::RootCertStore::empty()),
        development(vec![endpoint(&url, &secret, &[])], fast(&[0, 20], 5_000)),
    )
    .unwrap();

    let id = hooks.publish("memory.added", json!({}));
    settled(&hooks, 0, 1).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.retries), (2, 2, 1));
    let letter = only_dead_letter(&hooks).await;
    assert_eq!(letter.delivery.id, id);
    assert!(letter.reason.contains("transport"), "{}", letter.reason);
    assert!(
        receiver.connections() >= 1,
        "the TLS handshake was attempted"
    );
    assert!(
        receiver.requests().is_empty(),
        "no request over an untrusted TLS session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_named_in_the_dead_letter() {
    let secret = WebhookSecret::generate().unwrap();
    let (acceptor, _) = localhost_tls();
    let receiver = Receiver::start_tls(acceptor, [], status(200)).await;
    let url = format!("https://localhost:{}/hook", receiver.addr.port());
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::with_roots(Environment::Development, rustls::RootCertStore::empty()),
        development(vec![endpoint(&url, &secret, &[])], fast(&[0], 5_000)),
    )
    .unwrap();
    hooks.publish("memory.added", json!({}));
    settled(&hooks, 0, 1).await;
    let reason = only_dead_letter(&hooks).await.reason.to_lowercase();
    assert!(reason.contains("certificate"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// 9. Production rules.
// ---------------------------------------------------------------------------------------------

fn start_in_production(url: &str) -> Result<Webhooks, TargetError> {
    let secret = WebhookSecret::generate().unwrap();
    Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::new(Environment::Production),
        WebhookSettings::new(vec![endpoint(url, &secret, &[])], Environment::Production),
    )
}

#[tokio::test]
async fn production_refuses_plain_http_and_internal_address_literals() {
    let error = start_in_production("http://hooks.example.com/x").unwrap_err();
    assert_eq!(error, TargetError::NotHttps);
    let text = error.to_string();
    assert!(
        text.contains("production") && text.contains("https://"),
        "{text}"
    );

    for (url, ip) in [
        ("https://127.0.0.1/x", "127.0.0.1"),
        ("https://[::1]/x", "::1"),
    ] {
        let error = start_in_production(url).unwrap_err();
        assert_eq!(error, TargetError::NotGlobal(ip.parse().unwrap()), "{url}");
        let text = error.to_string();
        assert!(
            text.contains(ip) && text.contains("globally routable"),
            "{text}"
        );
    }

    // A name is checked when it resolves, not here.
    assert!(start_in_production("https://hooks.example.com/x").is_ok());
    // Development takes plain http:// to loopback.
    let secret = WebhookSecret::generate().unwrap();
    assert!(
        Webhooks::start(
            MemoryWebhookQueue::new(),
            HttpsTransport::new(Environment::Development),
            development(
                vec![endpoint("http://127.0.0.1:9/x", &secret, &[])],
                fast(&[0], 100)
            ),
        )
        .is_ok()
    );
}

/// Starts a production worker (one attempt) delivering to `https://localhost:<port>/`, which
/// resolves to loopback, and waits for the outcome.
async fn deliver_in_production_to_localhost(receiver: &Receiver) -> Webhooks {
    let secret = WebhookSecret::generate().unwrap();
    let url = format!("https://localhost:{}/", receiver.addr.port());
    let hooks = Webhooks::start(
        MemoryWebhookQueue::new(),
        HttpsTransport::new(Environment::Production),
        WebhookSettings::new(vec![endpoint(&url, &secret, &[])], Environment::Production)
            .with_policy(fast(&[0], 5_000)),
    )
    .expect("a host name passes the URL check; its addresses are checked on resolving");
    hooks.publish("memory.added", json!({}));
    settled(&hooks, 0, 1).await;
    hooks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_never_connects_to_a_name_resolving_to_loopback() {
    let receiver = Receiver::start([], status(200)).await;
    let hooks = deliver_in_production_to_localhost(&receiver).await;
    let stats = hooks.stats();
    assert_eq!((stats.attempts, stats.failures, stats.delivered), (1, 1, 0));
    assert_eq!(receiver.connections(), 0, "the resolver refused loopback");
    assert!(receiver.requests().is_empty());
    let letter = only_dead_letter(&hooks).await;
    assert!(letter.reason.contains("transport"), "{}", letter.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refused_address_is_named_in_the_dead_letter() {
    let receiver = Receiver::start([], status(200)).await;
    let hooks = deliver_in_production_to_localhost(&receiver).await;
    let reason = only_dead_letter(&hooks).await.reason;
    assert!(
        reason.contains("127.0.0.1")
            || reason.contains("::1")
            || reason.contains("globally routable"),
        "{reason}"
    );
}
