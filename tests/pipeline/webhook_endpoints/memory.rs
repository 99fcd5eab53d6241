//! On the memory backend: an API endpoint delivered with its secret, file endpoints owned by
//! the file, a 410 kept as the endpoint's state until enabled, a changed URL followed by the
//! deliveries, and secrets nowhere in `Debug`.

use std::time::Duration;

use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::store::RecordOwner;
use memorysync_pipeline::webhook::WebhookSecret;
use memorysync_pipeline::webhook::endpoints::{
    EndpointError, EndpointPatch, EndpointState, SecretKey,
};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_endpoint_receives_its_projects_events_signed_with_the_secret_create_returned() {
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let file_secret = WebhookSecret::generate().unwrap();
    // No [[webhooks]] in the file: the worker runs all the same.
    let deployment = start(
        &config("", true, &[]),
        options(Some(&key), &file_secret, &clock),
    )
    .await;
    let mut hook = Hook::start().await;

    let (view, secret) = deployment
        .endpoints()
        .create(new_endpoint(Some("proj_a"), &hook.url("/a")))
        .await
        .unwrap();
    assert!(view.id.starts_with("ep_"), "{view:?}");
    assert_eq!(view.owner, RecordOwner::Api);
    assert_eq!(view.project.as_deref(), Some("proj_a"));
    assert_eq!((view.state, view.created_at), (EndpointState::Enabled, T0));

    // Another project's event never reaches it; its own does, signed with the secret.
    publish(&deployment, "proj_b", 1);
    let id = publish(&deployment, "proj_a", 2);
    let arrival = hook.next().await;
    assert_eq!((arrival.id(), arrival.path.as_str()), (id.as_str(), "/a"));
    assert!(arrival.verifies(&secret, clock.now()));
    assert!(!arrival.verifies(&file_secret, clock.now()));
    assert_eq!(
        deployment.endpoints().list(Some("proj_a")).await.unwrap(),
        std::slice::from_ref(&view)
    );
    assert!(
        deployment
            .endpoints()
            .list(Some("proj_b"))
            .await
            .unwrap()
            .is_empty()
    );

    // A new URL: the next delivery goes there.
    let mut moved = Hook::start().await;
    let patch = EndpointPatch {
        url: Some(moved.url("/moved")),
        ..EndpointPatch::default()
    };
    let changed = deployment
        .endpoints()
        .update(&view.id, patch)
        .await
        .unwrap();
    assert_eq!(changed.url, moved.url("/moved"));
    let id = publish(&deployment, "proj_a", 3);
    let arrival = moved.next().await;
    assert_eq!(arrival.id(), id);
    assert!(arrival.verifies(&secret, clock.now()));

    // A delivery waiting for its retry when the endpoint is deleted becomes a dead letter.
    moved.answer(500);
    publish(&deployment, "proj_a", 4);
    moved.next().await;
    let hooks = deployment.webhooks().unwrap();
    eventually("the retry is scheduled", async || {
        hooks.stats().retries == 1
    })
    .await;
    deployment.endpoints().delete(&view.id).await.unwrap();
    assert_eq!(
        deployment.endpoints().get(&view.id).await,
        Err(EndpointError::NotFound(view.id.clone()))
    );
    clock.advance(Duration::from_secs(60));
    let reasons = dead_letters(&deployment, 1).await;
    assert!(reasons[0].contains("no longer configured"), "{reasons:?}");
    // And later events go nowhere.
    publish(&deployment, "proj_a", 5);
    assert_eq!(deployment.webhooks().unwrap().pending().await.unwrap(), 0);
    assert_eq!(hook.waiting() + moved.waiting(), 0);
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_disables_the_endpoint_until_it_is_enabled_and_what_came_meanwhile_is_dead_lettered()
{
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let deployment = start(
        &config("", true, &[]),
        options(Some(&key), &WebhookSecret::generate().unwrap(), &clock),
    )
    .await;
    let mut hook = Hook::start().await;
    let endpoints = deployment.endpoints();
    let (view, secret) = endpoints
        .create(new_endpoint(None, &hook.url("/in")))
        .await
        .unwrap();

    hook.answer(410);
    publish(&deployment, "proj_a", 1);
    hook.next().await;
    eventually("the 410 is the endpoint's state", async || {
        endpoints.get(&view.id).await.unwrap().state == EndpointState::DisabledGone
    })
    .await;
    assert!(deployment.webhooks().unwrap().is_disabled(&view.id));

    publish(&deployment, "proj_b", 2);
    let reasons = dead_letters(&deployment, 2).await;
    assert!(reasons.iter().all(|r| r.contains("410")), "{reasons:?}");
    assert_eq!(hook.waiting(), 0, "nothing is sent to a gone endpoint");

    hook.answer(200);
    let enabled = endpoints.enable(&view.id).await.unwrap();
    assert_eq!(enabled.state, EndpointState::Enabled);
    let id = publish(&deployment, "proj_a", 3);
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), id);
    assert!(arrival.verifies(&secret, clock.now()));
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_endpoints_change_only_in_the_file_but_their_state_is_the_operators() {
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let file_secret = WebhookSecret::generate().unwrap();
    let mut hook = Hook::start().await;
    let config = config("", true, &[hook.url("/file")]);
    let deployment = start(&config, options(Some(&key), &file_secret, &clock)).await;
    let endpoints = deployment.endpoints();

    let listed = endpoints.list(None).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let file = &listed[0];
    assert!(file.id.starts_with("ep_cfg_"), "{file:?}");
    assert_eq!(
        (file.owner, file.project.as_deref()),
        (RecordOwner::Config, None)
    );
    let owned = |e: Result<_, EndpointError>| {
        matches!(
            e,
            Err(EndpointError::OwnedBy {
                owner: RecordOwner::Config,
                ..
            })
        )
    };
    let url = EndpointPatch {
        url: Some(hook.url("/elsewhere")),
        ..EndpointPatch::default()
    };
    assert!(owned(endpoints.update(&file.id, url).await));
    assert!(owned(
        endpoints.delete(&file.id).await.map(|()| file.clone())
    ));
    assert!(owned(
        endpoints
            .rotate_secret(&file.id, Duration::ZERO)
            .await
            .map(|(v, _)| v)
    ));

    let off = EndpointPatch {
        enabled: Some(false),
        ..EndpointPatch::default()
    };
    let disabled = endpoints.update(&file.id, off).await.unwrap();
    assert_eq!(disabled.state, EndpointState::DisabledByOperator);
    publish(&deployment, "proj_a", 1);
    let reasons = dead_letters(&deployment, 1).await;
    assert!(reasons[0].contains("by an operator"), "{reasons:?}");

    endpoints.enable(&file.id).await.unwrap();
    let id = publish(&deployment, "proj_a", 2);
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), id);
    assert!(arrival.verifies(&file_secret, clock.now()));
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn secrets_are_never_in_debug_nor_in_a_view() {
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let file_secret = WebhookSecret::generate().unwrap();
    let config = config("", true, &["http://127.0.0.1:9/file".to_owned()]);
    let deployment = start(&config, options(Some(&key), &file_secret, &clock)).await;
    let (view, secret) = deployment
        .endpoints()
        .create(new_endpoint(Some("proj_a"), "http://127.0.0.1:9/api"))
        .await
        .unwrap();
    let (_, rotated) = deployment
        .endpoints()
        .rotate_secret(&view.id, Duration::from_secs(60))
        .await
        .unwrap();

    let shown = [
        format!("{:?}", deployment.endpoints()),
        format!("{deployment:?}"),
        format!("{:?}", deployment.webhooks().unwrap().endpoints()),
        format!("{view:?}"),
        format!("{secret:?} {rotated:?} {key:?}"),
        serde_json::to_string(&deployment.endpoints().list(None).await.unwrap()).unwrap(),
    ]
    .join("\n");
    for secret in [&secret, &rotated, &file_secret] {
        let text = secret.expose();
        assert!(
            !shown.contains(&text["whsec_".len()..]),
            "a secret in {shown}"
        );
    }
    assert!(!shown.contains(&key.to_base64()), "the key in {shown}");
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn the_memory_endpoint_store_keeps_its_contract() {
    let store = memorysync_pipeline::webhook::endpoints::MemoryEndpointStore::new();
    crate::common::suites::endpoint_store_suite(&store, T0).await;
}
