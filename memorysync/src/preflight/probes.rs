//! The checklist items that need the network: Redis answering PING, and a running instance's
//! `/health` answering ok. Each has a deadline so that a black-holed address fails the item
//! instead of hanging the preflight.

use std::error::Error;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use memorysync_pipeline::config::{RedisTarget, StoreBackend, StoreConfig};

use super::checks::Outcome;

/// How long Redis gets to answer PING, connecting included.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long `/health` gets to answer, connecting included.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// A health report is a few dozen bytes; a large body is not one.
const MAX_HEALTH_BODY: usize = 64 * 1024;

/// An error with its causes: hyper's and redis's top-level messages alone ("client error
/// (Connect)") do not say what went wrong.
fn describe(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        // Some errors already print their source; saying it twice reads as two problems.
        let message = inner.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = inner.source();
    }
    text
}

/// `redis-cluster`: skipped for one Redis; for a cluster, its own view of itself.
pub(crate) async fn redis_cluster(store: &StoreConfig, timeout: Duration) -> Outcome {
    match (store.backend, &store.redis_url) {
        (StoreBackend::Redis, Some(RedisTarget::Cluster(seeds))) => {
            cluster_health(seeds, timeout).await
        }
        (StoreBackend::Redis, _) => Outcome::Skipped("one Redis, not a cluster".to_owned()),
        (other, _) => Outcome::Skipped(format!("{other:?} backend").to_lowercase()),
    }
}

#[cfg(feature = "redis")]
async fn cluster_health(seeds: &[String], timeout: Duration) -> Outcome {
    match super::cluster::view(seeds, timeout).await {
        Ok(view) => view.judge(),
        Err(why) => Outcome::Fail(format!("no cluster seed answered: {why}")),
    }
}

#[cfg(not(feature = "redis"))]
async fn cluster_health(_seeds: &[String], _timeout: Duration) -> Outcome {
    Outcome::Fail("this memorysync was built without the redis feature".to_owned())
}

/// PINGs `store.redis_url` (on a cluster, every master). The URL is never printed: it may hold a password.
pub(crate) async fn redis_reachable(store: &StoreConfig, timeout: Duration) -> Outcome {
    let target = match (store.backend, &store.redis_url) {
        (StoreBackend::Memory, _) => return Outcome::Skipped("memory backend".to_owned()),
        (StoreBackend::Embedded, _) => return Outcome::Skipped("embedded backend".to_owned()),
        (StoreBackend::Redis, None) => return Outcome::Fail("no redis_url".to_owned()),
        (StoreBackend::Redis, Some(target)) => target,
    };
    reach(target, timeout).await
}

/// One Redis: a `PING`. A cluster: see [`every_master_pings`].
#[cfg(feature = "redis")]
async fn reach(target: &RedisTarget, timeout: Duration) -> Outcome {
    match target {
        RedisTarget::Cluster(seeds) => every_master_pings(seeds, timeout).await,
        _ => match redis::Client::open(target.urls()[0].as_str()) {
            Ok(client) => ping(client, timeout).await,
            Err(error) => Outcome::Fail(format!("Redis unreachable: {}", describe(&error))),
        },
    }
}

/// On a cluster: the seeds' view, then a `PING` of every master it names.
#[cfg(feature = "redis")]
async fn every_master_pings(seeds: &[String], timeout: Duration) -> Outcome {
    let view = match super::cluster::view(seeds, timeout).await {
        Ok(view) => view,
        Err(why) => return Outcome::Fail(format!("no cluster seed answered: {why}")),
    };
    for master in view.live_masters() {
        let client = match super::cluster::node_client(&seeds[0], &master.addr) {
            Ok(client) => client,
            Err(error) => return Outcome::Fail(describe(&error)),
        };
        if let Outcome::Fail(why) = ping(client, timeout).await {
            return Outcome::Fail(format!("master {}: {why}", master.addr));
        }
    }
    Outcome::Pass
}

#[cfg(feature = "redis")]
async fn ping(client: redis::Client, timeout: Duration) -> Outcome {
    let ping = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(timeout, ping).await {
        Ok(Ok(reply)) if reply == "PONG" => Outcome::Pass,
        Ok(Ok(_)) => Outcome::Fail("PING was not answered PONG".to_owned()),
        Ok(Err(error)) => Outcome::Fail(format!("Redis unreachable: {}", describe(&error))),
        Err(_) => Outcome::Fail(format!("Redis did not answer within {timeout:?}")),
    }
}

/// Built without Redis, this binary could not serve the config either: that is the failure.
#[cfg(not(feature = "redis"))]
async fn reach(_target: &RedisTarget, _timeout: Duration) -> Outcome {
    Outcome::Fail("this memorysync was built without the redis feature".to_owned())
}

/// `GET <base>/health` over plain HTTP must answer 200 `{"status":"ok"}`. A `degraded` report is
/// a failure here although the route answers it with 200: a deployment should not go live
/// already degraded.
pub(crate) async fn health_ok(base: Option<&str>, timeout: Duration) -> Outcome {
    let Some(base) = base else {
        return Outcome::Skipped("no --url given".to_owned());
    };
    let uri: http::Uri = match format!("{}/health", base.trim_end_matches('/')).parse() {
        Ok(uri) => uri,
        Err(_) => return Outcome::Fail(format!("--url {base:?} is not a URL")),
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let fetch = async {
        let response = client.get(uri).await.map_err(|e| describe(&e))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_HEALTH_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {}", describe(&*e)))?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    let (status, body) = match tokio::time::timeout(timeout, fetch).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return Outcome::Fail(format!("no answer: {error}")),
        Err(_) => return Outcome::Fail(format!("no answer within {timeout:?}")),
    };
    if status != http::StatusCode::OK {
        return Outcome::Fail(format!("GET /health answered {status}"));
    }
    let report: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(_) => return Outcome::Fail("GET /health did not answer JSON".to_owned()),
    };
    match report["status"].as_str() {
        Some("ok") => Outcome::Pass,
        Some("degraded") => Outcome::Fail(format!("degraded, checks: {}", report["checks"])),
        _ => Outcome::Fail("GET /health answered no \"status\":\"ok\"".to_owned()),
    }
}
