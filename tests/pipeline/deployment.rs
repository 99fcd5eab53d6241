//! The deployment environment is an argument of the auth stage, with no default: a production
//! pipeline built any documented way refuses a development (`msk_test_`) key that its store
//! holds, as `invalid_api_key`, before the key reaches anything inside.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, MemoryAuditSink};
use memorysync_pipeline::auth::{ApiKeyAuth, ApiKeyAuthLayer};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::{Environment, key::KeyStore};
use tower::{Layer, ServiceBuilder};

use crate::common::{Fixture, PROJECT, T0, assert_problem, recording_service, send};

const PRODUCTION: Environment = Environment::Production;

/// The fixture's development key, as the crate docs send it.
fn with_test_key<B: Default>(fixture: &Fixture) -> Request<B> {
    Request::get("/v1/memories")
        .header("authorization", fixture.bearer())
        .header("x-project-id", PROJECT)
        .body(B::default())
        .unwrap()
}

#[tokio::test]
async fn a_production_pipeline_wired_as_documented_answered_a_test_key_with_200() {
    let fixture = Fixture::new().await;
    assert!(fixture.secret().starts_with("msk_test_"));
    let inner = || recording_service(&fixture.recorder);

    // The crate docs' six stages around an axum router.
    let audit = AuditLog::start(MemoryAuditSink::new(), AuditLogConfig::new()).unwrap();
    let pipeline = PipelineBuilder::new()
        .stage(HealthRouteLayer::new())
        .stage(AuditRecordLayer::new(audit))
        .stage(ApiKeyAuthLayer::new(fixture.store.clone(), PRODUCTION))
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new())
        .stage(QuotaDegradeLayer::new(QuotaPlans::new()))
        .into_layer();
    let app = pipeline.around(Router::new().route("/v1/memories", get(|| async { "[]" })));
    let reply = send(app, with_test_key::<Body>(&fixture)).await;
    assert_problem(&reply, 401, "invalid_api_key");

    // The stage alone: in a `ServiceBuilder`, through `ApiKeyAuth::new`, on a shared store.
    let alone = ServiceBuilder::new()
        .layer(ApiKeyAuthLayer::new(fixture.store.clone(), PRODUCTION))
        .service(inner());
    let through_service = ApiKeyAuth::new(
        inner(),
        ApiKeyAuthLayer::new(fixture.store.clone(), PRODUCTION),
    );
    let shared = ApiKeyAuthLayer::from_shared_store(Arc::new(fixture.store.clone()), PRODUCTION);
    for reply in [
        send(alone, with_test_key(&fixture)).await,
        send(through_service, with_test_key(&fixture)).await,
        send(shared.layer(inner()), with_test_key(&fixture)).await,
    ] {
        assert_problem(&reply, 401, "invalid_api_key");
    }

    // From a config file that says production and lists the key.
    let config = Config::from_toml(&format!(
        "environment = \"production\"\n\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 1\nqueries_per_month = 1\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"development\"\n",
        fixture.key.hash().to_hex()
    ))
    .unwrap();
    let keys = config.memory_key_store(T0).await.unwrap();
    assert!(
        keys.find_by_hash(&fixture.key.hash())
            .await
            .unwrap()
            .is_some()
    );
    let from_config = ApiKeyAuthLayer::new(keys, config.environment).layer(inner());
    let reply = send(from_config, with_test_key(&fixture)).await;
    assert_problem(&reply, 401, "invalid_api_key");

    assert_eq!(fixture.recorder.calls(), 0, "a test key reached inside");
}

#[tokio::test]
async fn a_development_deployment_given_explicitly_admits_the_test_key() {
    let fixture = Fixture::new().await;
    let layer = ApiKeyAuthLayer::new(fixture.store.clone(), Environment::Development);
    assert_eq!(layer.deployment(), Environment::Development);
    let reply = send(
        layer.layer(recording_service(&fixture.recorder)),
        with_test_key(&fixture),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(format!("{layer:?}").matches("Development").count(), 1);
}
