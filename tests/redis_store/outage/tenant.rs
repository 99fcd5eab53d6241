//! The pieces of the outage test: a tenant (a key and a project behind the pipeline on Redis
//! stores with one policy), and a load running beside the test.
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use http_body_util::BodyExt;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, LastKnownKeys};
use memorysync_pipeline::limit::{SlidingWindowRateLimitLayer, WithFallback};
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{Plan, QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::redis_store::{
    RedisConnection, RedisKeyStore, RedisQuotaStore, RedisRateLimitStore,
};
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::store::StoreErrorPolicy;
use memorysync_pipeline::{ClientAddr, Environment};
use tokio::sync::watch;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

/// A request's status and body.
type Answer = (u16, String);
type Pipeline = BoxCloneSyncService<Request<String>, Answer, Infallible>;

/// A key and its project behind the five admission stages on Redis stores with `policy`.
pub(crate) struct Tenant {
    pub(crate) policy: StoreErrorPolicy,
    key: ApiKey,
    project: String,
    pipeline: Pipeline,
    inner_calls: Arc<AtomicUsize>,
}

impl Tenant {
    /// A fresh key (limited to `rpm` a minute) and project (one add a month) under `policy`.
    pub(crate) async fn new(
        connection: &RedisConnection,
        policy: StoreErrorPolicy,
        rpm: Option<u32>,
    ) -> Tenant {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let project = format!("proj_{policy:?}_{n}").to_lowercase();
        let key = ApiKey::generate(Environment::Development).unwrap();
        let keys: WithFallback<_, LastKnownKeys> =
            WithFallback::new(RedisKeyStore::new(connection.clone()), policy);
        let record = KeyRecord::new(
            format!("key_{n}"),
            key.hash(),
            project.as_str(),
            Environment::Development,
        )
        .with_limits(None, rpm);
        keys.insert(record, SystemClock.now()).await.unwrap();
        let plans = QuotaPlans::new().with_plan(project.as_str(), Plan::new(1, 1_000_000));
        let inner_calls = Arc::new(AtomicUsize::new(0));
        let pipeline = PipelineBuilder::new()
            .stage(HealthRouteLayer::new().with_check(connection.health_check()))
            .stage(ApiKeyAuthLayer::new(keys, Environment::Development))
            .stage(ProjectScopeLayer::new())
            .stage(SlidingWindowRateLimitLayer::from_store(WithFallback::new(
                RedisRateLimitStore::new(connection.clone()),
                policy,
            )))
            .stage(QuotaDegradeLayer::from_store(
                plans,
                WithFallback::new(RedisQuotaStore::new(connection.clone()), policy),
            ))
            .into_layer();
        let calls = Arc::clone(&inner_calls);
        let service = ServiceBuilder::new()
            .layer(pipeline)
            .service(tower::service_fn(move |_: Request<String>| {
                calls.fetch_add(1, Ordering::Relaxed);
                async {
                    Ok::<_, Infallible>(Response::new(r#"{"results":[{"id":"m"}]}"#.to_owned()))
                }
            }))
            .and_then(answer);
        Tenant {
            policy,
            key,
            project,
            pipeline: BoxCloneSyncService::new(service),
            inner_calls,
        }
    }

    /// A key of this project stored in Redis by another process's store, so this tenant's
    /// store has never seen it.
    pub(crate) async fn unseen_key(&self, connection: &RedisConnection) -> ApiKey {
        let key = ApiKey::generate(Environment::Development).unwrap();
        let record = KeyRecord::new(
            format!("{}_unseen", self.project),
            key.hash(),
            self.project.as_str(),
            Environment::Development,
        );
        RedisKeyStore::new(connection.clone())
            .insert(record, SystemClock.now())
            .await
            .unwrap();
        key
    }

    /// How often a request reached the service behind the pipeline.
    pub(crate) fn inner_calls(&self) -> usize {
        self.inner_calls.load(Ordering::Relaxed)
    }

    /// `GET /health`.
    pub(crate) async fn health(&self) -> Answer {
        let request = Request::get("/health")
            .extension(ClientAddr(([127, 0, 0, 1], 1).into()))
            .body(String::new())
            .unwrap();
        self.pipeline.clone().oneshot(request).await.unwrap()
    }

    /// The status of one request with this tenant's key.
    pub(crate) async fn call(&self, method: &str, path: &str) -> u16 {
        self.call_with(&self.key, method, path).await
    }

    /// The status of one request with `key` for this tenant's project. A 500 fails the test.
    pub(crate) async fn call_with(&self, key: &ApiKey, method: &str, path: &str) -> u16 {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", key.expose_secret())
            .header("x-project-id", &self.project)
            .header("content-type", "application/json")
            .body(r#"{"text":"x","query":"x"}"#.to_owned())
            .unwrap();
        let (status, body) = self.pipeline.clone().oneshot(request).await.unwrap();
        assert!(status < 500 || status == 503, "{status} {body}");
        if status == 503 {
            assert!(body.contains(r#""code":"store_unavailable""#), "{body}");
        }
        status
    }

    /// The statuses of `requests` in order.
    pub(crate) async fn run(&self, requests: &[(&str, &str)]) -> Vec<u16> {
        let mut statuses = Vec::new();
        for (method, path) in requests {
            statuses.push(self.call(method, path).await);
        }
        statuses
    }
}

async fn answer<B>(response: Response<B>) -> Result<Answer, Infallible>
where
    B: http_body::Body<Error: std::fmt::Debug>,
{
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Tasks sending `GET /v1/memories` for one tenant until stopped, recording every status.
pub(crate) struct Load {
    served: watch::Receiver<usize>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    statuses: Arc<Mutex<Vec<u16>>>,
}

impl Load {
    pub(crate) fn start(tenant: Tenant, tasks: usize) -> Load {
        let tenant = Arc::new(tenant);
        let (count, served) = watch::channel(0);
        let (stop, stopped) = watch::channel(false);
        let statuses = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(count);
        let tasks = (0..tasks)
            .map(|_| {
                let (tenant, count, stopped) = (tenant.clone(), count.clone(), stopped.clone());
                let statuses = statuses.clone();
                tokio::spawn(async move {
                    while !*stopped.borrow() {
                        let status = tenant.call("GET", "/v1/memories").await;
                        statuses.lock().unwrap().push(status);
                        count.send_modify(|n| *n += 1);
                        // Answers from local state complete without waiting: let the test run.
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        Load {
            served,
            stop,
            tasks,
            statuses,
        }
    }

    /// Requests answered so far.
    pub(crate) fn served(&self) -> usize {
        *self.served.borrow()
    }

    /// Waits until `count` requests have been answered.
    pub(crate) async fn until_served(&self, count: usize) {
        let mut served = self.served.clone();
        served.wait_for(|n| *n >= count).await.unwrap();
    }

    /// Stops the tasks (a panic in one fails the test) and returns every status seen.
    pub(crate) async fn stop(self) -> Vec<u16> {
        self.stop.send(true).unwrap();
        for task in self.tasks {
            task.await.unwrap();
        }
        std::mem::take(&mut *self.statuses.lock().unwrap())
    }
}
