//! Every refusal is a typed error: no key to seal with, a URL a production deployment may not
//! call, unknown events, a malformed project, an unknown id.

use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, ManualClock};
use memorysync_pipeline::webhook::endpoints::{
    EndpointError, EndpointPatch, EndpointsConfig, MemoryEndpointStore, NewEndpoint, SecretKey,
    WebhookEndpoints,
};
use memorysync_pipeline::webhook::{EndpointSet, WebhookSecret};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_creating_and_rotating_are_refused_and_file_endpoints_still_deliver() {
    let clock = ManualClock::new(T0);
    let file_secret = WebhookSecret::generate().unwrap();
    let mut hook = Hook::start().await;
    let config = config("", false, &[hook.url("/file")]);
    let deployment = start(&config, options(None, &file_secret, &clock)).await;
    let endpoints = deployment.endpoints();
    assert!(!endpoints.has_secret_key());

    let refused = endpoints
        .create(new_endpoint(None, &hook.url("/api")))
        .await;
    assert_eq!(refused.map(|(v, _)| v), Err(EndpointError::NoSecretKey));
    assert!(
        EndpointError::NoSecretKey
            .to_string()
            .contains("secret_key_env")
    );
    let file = endpoints.list(None).await.unwrap().remove(0);
    let rotate = endpoints.rotate_secret(&file.id, Duration::ZERO).await;
    assert_eq!(rotate.map(|(v, _)| v), Err(EndpointError::NoSecretKey));

    let id = publish(&deployment, "proj_a", 1);
    let arrival = hook.next().await;
    assert_eq!(arrival.id(), id);
    assert!(arrival.verifies(&file_secret, clock.now()));
    deployment.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_key_named_and_not_set_stops_the_start_naming_the_variable() {
    let clock = ManualClock::new(T0);
    let options = options(None, &WebhookSecret::generate().unwrap(), &clock);
    let error = memorysync_pipeline::deployment::Deployment::start(&config("", true, &[]), options)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("SEAL_KEY is not set"), "{error}");
}

#[tokio::test]
async fn bad_input_is_a_typed_error_on_production_rules() {
    let config = EndpointsConfig::new(Environment::Production)
        .with_secret_key(Some(SecretKey::generate().unwrap()));
    let endpoints = WebhookEndpoints::start(
        MemoryEndpointStore::new(),
        EndpointSet::new(Vec::new()),
        config,
    )
    .await;
    let new = |url: &str, events: &[&str], project: Option<&str>| NewEndpoint {
        project: project.map(str::to_owned),
        url: url.to_owned(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    };
    let ok = ["quota.exhausted"];
    for url in [
        "http://hooks.example.com/in",
        "https://10.0.0.1/in",
        "https://127.0.0.1/in",
        "ftp://hooks.example.com/in",
        "not a url",
        "/relative",
    ] {
        let refused = endpoints.create(new(url, &ok, None)).await.map(|(v, _)| v);
        assert!(
            matches!(refused, Err(EndpointError::InvalidUrl(_))),
            "{url}: {refused:?}"
        );
    }
    let long = format!("https://hooks.example.com/{}", "a".repeat(3000));
    let refused = endpoints
        .create(new(&long, &ok, None))
        .await
        .map(|(v, _)| v);
    assert!(
        matches!(refused, Err(EndpointError::InvalidUrl(_))),
        "{refused:?}"
    );
    let url = "https://hooks.example.com/in";
    for (events, project) in [
        (&[][..], None),
        (&["memory.created"][..], None),
        (&ok[..], Some("proj a")),
        (&ok[..], Some("")),
    ] {
        let refused = endpoints
            .create(new(url, events, project))
            .await
            .map(|(v, _)| v);
        assert!(
            matches!(refused, Err(EndpointError::Invalid(_))),
            "{events:?} {project:?}"
        );
    }
    assert!(
        endpoints.list(None).await.unwrap().is_empty(),
        "nothing was stored"
    );

    let (view, _) = endpoints
        .create(new(url, &ok, Some("proj_a")))
        .await
        .unwrap();
    let bad_url = EndpointPatch {
        url: Some("http://hooks.example.com/in".into()),
        ..EndpointPatch::default()
    };
    let refused = endpoints.update(&view.id, bad_url).await;
    assert!(
        matches!(refused, Err(EndpointError::InvalidUrl(_))),
        "{refused:?}"
    );

    let missing = || EndpointError::NotFound("ep_missing".into());
    assert_eq!(endpoints.get("ep_missing").await, Err(missing()));
    assert_eq!(endpoints.enable("ep_missing").await, Err(missing()));
    assert_eq!(endpoints.delete("ep_missing").await, Err(missing()));
    let patch = EndpointPatch::default();
    assert_eq!(endpoints.update("ep_missing", patch).await, Err(missing()));
    let rotated = endpoints.rotate_secret("ep_missing", Duration::ZERO).await;
    assert_eq!(rotated.map(|(v, _)| v), Err(missing()));
}
