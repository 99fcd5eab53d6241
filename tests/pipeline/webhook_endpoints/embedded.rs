//! On the embedded backend: endpoints and their 410 state survive a restart, secrets are on
//! disk only sealed, and a wrong key or a tampered sealed secret is a typed error (and, for the
//! worker, a dead letter saying so), never a panic.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore};
use memorysync_pipeline::webhook::WebhookSecret;
use memorysync_pipeline::webhook::endpoints::{
    CipherError, EndpointState, EndpointStore, SecretKey,
};

use super::*;

fn embedded(dir: &Path) -> String {
    format!("backend = \"embedded\"\npath = \"{}\"", dir.display())
}

/// The raw key bytes and the text of `secret`.
fn forms(secret: &WebhookSecret) -> (Vec<u8>, String) {
    let text = secret.expose();
    let body = text["whsec_".len()..].to_owned();
    (STANDARD.decode(&body).unwrap(), body)
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_and_their_410_survive_a_restart_and_no_secret_is_on_disk_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let file = WebhookSecret::generate().unwrap();
    let config = config(&embedded(dir.path()), true, &[]);
    let mut hook = Hook::start().await;

    let deployment = start(&config, options(Some(&key), &file, &clock)).await;
    let (view, secret) = deployment
        .endpoints()
        .create(new_endpoint(Some("proj_a"), &hook.url("/in")))
        .await
        .unwrap();
    hook.answer(410);
    publish(&deployment, "proj_a", 1);
    hook.next().await;
    eventually("the 410 is stored", async || {
        deployment.endpoints().get(&view.id).await.unwrap().state == EndpointState::DisabledGone
    })
    .await;
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();

    let disk = std::fs::read(dir.path().join("state.redb")).unwrap();
    assert!(holds(&disk, view.id.as_bytes()), "the record is on disk");
    let (raw, text) = forms(&secret);
    assert!(!holds(&disk, &raw), "the secret's bytes in clear");
    assert!(!holds(&disk, text.as_bytes()), "the secret's text in clear");
    assert!(!holds(&disk, key.to_base64().as_bytes()), "the key on disk");

    clock.advance(Duration::from_secs(60));
    let again = start(&config, options(Some(&key), &file, &clock)).await;
    let kept = again.endpoints().get(&view.id).await.unwrap();
    assert_eq!(
        kept.state,
        EndpointState::DisabledGone,
        "the 410 outlived the process"
    );
    assert_eq!(
        (kept.url.as_str(), kept.created_at),
        (view.url.as_str(), T0)
    );
    hook.answer(200);
    again.endpoints().enable(&view.id).await.unwrap();
    let id = publish(&again, "proj_a", 2);
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), id);
    assert!(
        arrival.verifies(&secret, clock.now()),
        "the secret opened after the restart"
    );
    again.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_a_tampered_secret_is_a_typed_error_and_a_dead_letter_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let file = WebhookSecret::generate().unwrap();
    let config = config(&embedded(dir.path()), true, &[]);
    let mut hook = Hook::start().await;

    let deployment = start(&config, options(Some(&key), &file, &clock)).await;
    let (view, secret) = deployment
        .endpoints()
        .create(new_endpoint(Some("proj_a"), &hook.url("/in")))
        .await
        .unwrap();
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();

    // Another key: the endpoint is listed, its deliveries are dead letters saying why.
    let other = SecretKey::generate().unwrap();
    let wrong = start(&config, options(Some(&other), &file, &clock)).await;
    assert_eq!(wrong.endpoints().list(None).await.unwrap().len(), 1);
    publish(&wrong, "proj_a", 1);
    let reasons = dead_letters(&wrong, 1).await;
    assert!(reasons[0].contains("no usable secret"), "{reasons:?}");
    assert_eq!(hook.waiting(), 0, "nothing unsigned was sent");
    wrong.shutdown(Duration::from_secs(5)).await.unwrap();

    // The sealed text read back: it opens with its key for its endpoint only, and a tampered
    // copy is an error.
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    let endpoints = store.webhook_endpoints();
    let mut record = endpoints.get(&view.id).await.unwrap().unwrap();
    let sealed = record.secrets[0].sealed.clone();
    assert_eq!(key.open(&view.id, &sealed), Ok(secret.clone()));
    assert_eq!(
        other.open(&view.id, &sealed),
        Err(CipherError::WrongKeyOrTampered)
    );
    assert_eq!(
        key.open("ep_other", &sealed),
        Err(CipherError::WrongKeyOrTampered)
    );
    let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
    bytes[20] ^= 0x40;
    let tampered = format!("v1.{}", STANDARD.encode(&bytes));
    assert_eq!(
        key.open(&view.id, &tampered),
        Err(CipherError::WrongKeyOrTampered)
    );
    record.secrets[0].sealed = tampered;
    let revision = record.revision;
    record.revision += 1;
    assert!(endpoints.put(&record, revision).await.unwrap());
    store.close().await;
    drop((endpoints, store));

    // With the right key and a tampered secret: dead letters again, no panic.
    let tampered = start(&config, options(Some(&key), &file, &clock)).await;
    publish(&tampered, "proj_a", 2);
    let reasons = dead_letters(&tampered, 2).await;
    assert!(
        reasons.iter().all(|r| r.contains("no usable secret")),
        "{reasons:?}"
    );
    tampered.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn the_embedded_endpoint_store_keeps_its_contract_and_its_records_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    crate::common::suites::endpoint_store_suite(&store.webhook_endpoints(), T0).await;
    let record = memorysync_pipeline::webhook::endpoints::EndpointRecord::new(
        "ep_kept",
        memorysync_pipeline::store::RecordOwner::Api,
        "https://kept.example/in",
        vec!["webhook.test".into()],
        T0,
    );
    assert!(store.webhook_endpoints().put(&record, 0).await.unwrap());
    store.close().await;
    drop(store);
    let reopened = EmbeddedStore::open(dir.path(), EmbeddedOptions::new()).unwrap();
    let endpoints = reopened.webhook_endpoints();
    assert_eq!(endpoints.all().await.unwrap(), vec![record.clone()]);
    // The revision is kept too: a write under a stale one still loses.
    assert!(!endpoints.put(&record, 0).await.unwrap());
}
