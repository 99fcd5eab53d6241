//! Rotating a secret: during the overlap every delivery carries both signatures, and a
//! receiver holding either secret verifies it; once the overlap has passed on the deployment's
//! clock, only the new secret signs.

use std::time::Duration;

use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::webhook::WebhookSecret;
use memorysync_pipeline::webhook::endpoints::SecretKey;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_secrets_sign_during_the_overlap_then_only_the_new_one() {
    let clock = ManualClock::new(T0);
    let key = SecretKey::generate().unwrap();
    let deployment = start(
        &config("", true, &[]),
        options(Some(&key), &WebhookSecret::generate().unwrap(), &clock),
    )
    .await;
    let mut hook = Hook::start().await;
    let endpoints = deployment.endpoints();
    let (view, old) = endpoints
        .create(new_endpoint(Some("proj_a"), &hook.url("/in")))
        .await
        .unwrap();

    publish(&deployment, "proj_a", 1);
    let before = hook.next().await;
    assert_eq!(before.signatures(), 1);
    assert!(before.verifies(&old, clock.now()));

    let hour = Duration::from_secs(3600);
    let (rotated, new) = endpoints.rotate_secret(&view.id, hour).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(
        rotated.secret_rotation_ends_at,
        Some(T0.saturating_add(hour))
    );
    publish(&deployment, "proj_a", 2);
    let during = hook.next().await;
    assert_eq!(during.signatures(), 2, "{during:?}");
    assert!(during.verifies(&old, clock.now()));
    assert!(during.verifies(&new, clock.now()));

    clock.advance(hour);
    publish(&deployment, "proj_a", 3);
    let after = hook.next().await;
    assert_eq!(after.signatures(), 1);
    assert!(after.verifies(&new, clock.now()));
    assert!(
        !after.verifies(&old, clock.now()),
        "the old secret stopped at the overlap's end"
    );
    let shown = endpoints.get(&view.id).await.unwrap();
    assert_eq!(shown.secret_rotation_ends_at, None, "the rotation is over");

    // A rotation with no overlap hands over at once.
    let (_, newest) = endpoints
        .rotate_secret(&view.id, Duration::ZERO)
        .await
        .unwrap();
    publish(&deployment, "proj_a", 4);
    let at_once = hook.next().await;
    assert_eq!(at_once.signatures(), 1);
    assert!(at_once.verifies(&newest, clock.now()));
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}
