//! Choosing the backends at run time costs the in-memory path no allocation: a request through
//! the stages of a `Deployment` on `store.backend = "memory"` allocates exactly what it does
//! through the same stages built by hand on the memory stores. The audit and health stages are
//! left out of both (they allocate their event and nothing the backend choice touches).
//!
//! Its own test binary, for the counting global allocator; counts are per thread, and each
//! request runs to completion on the test's thread.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;

use http::{Request, Response};
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Defers to the system allocator and counts this thread's allocations.
struct Counting;

// SAFETY: defers to the system allocator; the count is a const-initialised thread-local Cell,
// which never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same layout, passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

fn config(key: &ApiKey) -> Config {
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_a\"\nadds_per_month = 1000000\nqueries_per_month = 1000000\n\
         [[keys]]\nid = \"key_a\"\nsha256 = \"{}\"\nproject = \"proj_a\"\nenvironment = \"development\"\nrps = 1000000\nrpm = 1000000\n",
        key.hash().to_hex()
    );
    Config::from_toml(&text).unwrap()
}

fn request(key: &ApiKey) -> Request<()> {
    Request::post("/v1/memories")
        .header("authorization", format!("Bearer {}", key.expose_secret()))
        .header("x-project-id", "proj_a")
        .body(())
        .unwrap()
}

/// Allocations of one admitted request through `service`, after a warm-up; the request is
/// built before counting.
async fn allocations_per_request<S, B>(mut service: S, key: &ApiKey) -> u64
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    for _ in 0..3 {
        let response = service.ready().await.unwrap().call(request(key)).await;
        assert_eq!(response.unwrap().status(), 200);
    }
    let request = request(key);
    let before = ALLOCATIONS.with(Cell::get);
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(response.status(), 200);
    after - before
}

#[tokio::test(flavor = "current_thread")]
async fn the_deployments_memory_stores_allocate_no_more_than_the_memory_stores_themselves() {
    let key = ApiKey::generate(Environment::Development).unwrap();
    let config = config(&key);
    let clock = ManualClock::new(T0);
    let app = || service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });

    let deployment = Deployment::start(&config, DeploymentOptions::new().with_clock(clock.clone()))
        .await
        .unwrap();
    let stages = deployment.stages();
    let chosen = PipelineBuilder::new()
        .stage(stages.auth)
        .stage(stages.scope)
        .stage(stages.limit)
        .stage(stages.quota)
        .into_layer()
        .layer(app());

    let keys = config.memory_key_store(T0).await.unwrap();
    let by_hand = PipelineBuilder::new()
        .stage(ApiKeyAuthLayer::new(keys, Environment::Development).with_clock(clock.clone()))
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new().with_clock(clock.clone()))
        .stage(
            QuotaDegradeLayer::new(QuotaPlans::from_config(&config))
                .with_classifier(config.quota_classifier())
                .with_clock(clock.clone()),
        )
        .into_layer()
        .layer(app());

    let by_hand = allocations_per_request(by_hand, &key).await;
    let chosen = allocations_per_request(chosen, &key).await;
    assert!(by_hand > 0, "the counter counts (extensions allocate)");
    assert_eq!(
        chosen, by_hand,
        "choosing the backend at run time allocated on the in-memory path"
    );
}
