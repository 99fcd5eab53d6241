//! A Redis that goes away under load and comes back: each `on_store_error` policy does what it
//! says, no request ends in a 500 or a panic, and `/health` turns degraded and then ok again.
//! Starts its own `redis-server` on a free port (skipped with a line when there is none, unless
//! `MEMORYSYNC_TEST_REDIS_URL` is set, as in CI, where it must be there).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http_body_util::BodyExt;
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::config::StoreErrorPolicy;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
use memorysync_pipeline::limit::{SlidingWindowRateLimitLayer, WithFallback};
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::redis_store::{RedisConnection, RedisOptions, RedisRateLimitStore};
use tower::{Service, ServiceExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(port: u16) -> Option<Child> {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => Some(child),
        Err(error) => {
            assert!(
                std::env::var("MEMORYSYNC_TEST_REDIS_URL").is_err(),
                "redis-server must be on PATH where MEMORYSYNC_TEST_REDIS_URL is set: {error}"
            );
            println!("skipped: redis-server is not available ({error})");
            None
        }
    }
}

/// Waits until something answers PING on the port (bounded, no fixed sleep).
async fn until_answers(port: u16) {
    for _ in 0..200 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = stream.write_all(b"PING\r\n").await;
            let mut reply = [0u8; 5];
            if stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG" {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("redis-server on {port} did not come up");
}

async fn body_of(
    response: http::Response<impl http_body::Body<Error: std::fmt::Debug>>,
) -> (u16, String) {
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_rides_out_a_redis_outage_and_health_follows() {
    let port = free_port();
    let Some(mut redis) = start_redis(port) else {
        return;
    };
    until_answers(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    let options = RedisOptions {
        timeout: Duration::from_millis(200),
        ..RedisOptions::default()
    };
    let connection = RedisConnection::connect(&url, options).await.unwrap();

    let key = ApiKey::generate(Environment::Development).unwrap();
    let keys = MemoryKeyStore::new();
    let record = KeyRecord::new("key_outage", key.hash(), "proj", Environment::Development)
        .with_limits(None, Some(3));
    keys.insert(record, Timestamp::EPOCH).await.unwrap();

    let service = |policy| {
        let limiter = WithFallback::new(RedisRateLimitStore::new(connection.clone()), policy);
        let pipeline = PipelineBuilder::new()
            .stage(HealthRouteLayer::new().with_check(connection.health_check()))
            .stage(ApiKeyAuthLayer::new(keys.clone()))
            .stage(SlidingWindowRateLimitLayer::from_store(limiter))
            .into_layer();
        tower::ServiceBuilder::new()
            .layer(pipeline)
            .service(tower::service_fn(|_: http::Request<String>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
            }))
    };
    let call = |path: &str| {
        http::Request::get(path)
            .header("x-api-key", key.expose_secret())
            .extension(memorysync_pipeline::ClientAddr(([127, 0, 0, 1], 1).into()))
            .body(String::new())
            .unwrap()
    };
    let mut local = service(StoreErrorPolicy::Local);
    let mut allow = service(StoreErrorPolicy::Allow);
    let mut deny = service(StoreErrorPolicy::Deny);

    // Redis up: the limit is Redis's (3 a minute for the key, shared by all three services).
    let (status, health) = health_of(&mut local, &call).await;
    assert_eq!((status, health.as_str()), (200, r#"{"status":"ok"}"#));
    let up = statuses_of(&mut local, &call, 4).await;
    assert_eq!(up, [200, 200, 200, 429]);

    // Redis goes away.
    redis.kill().unwrap();
    redis.wait().unwrap();
    let (status, health) = health_of(&mut allow, &call).await;
    assert_eq!(status, 200);
    assert!(
        health.contains(r#""status":"degraded""#) && health.contains(r#""redis":"unreachable""#),
        "{health}"
    );
    let during_local = statuses_of(&mut local, &call, 5).await;
    assert_eq!(
        during_local,
        [200, 200, 200, 429, 429],
        "local: per-instance limits meanwhile"
    );
    let during_allow = statuses_of(&mut allow, &call, 5).await;
    assert_eq!(during_allow, [200; 5], "allow: admitted unchecked");
    let during_deny = statuses_of(&mut deny, &call, 5).await;
    assert_eq!(during_deny, [503; 5], "deny: store_unavailable");

    // Redis comes back on the same port: health and decisions recover by themselves.
    let mut redis = start_redis(port).unwrap();
    until_answers(port).await;
    let mut recovered = false;
    for _ in 0..50 {
        let (_, health) = health_of(&mut allow, &call).await;
        if health == r#"{"status":"ok"}"# {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recovered, "health did not come back");
    // A fresh Redis: the key's minute starts empty again.
    let after = statuses_of(&mut deny, &call, 5).await;
    assert_eq!(after, [200, 200, 200, 429, 429]);
    redis.kill().unwrap();
    redis.wait().unwrap();
}

/// The status and body of `GET /health` through `service`.
async fn health_of<S, B>(
    service: &mut S,
    call: &impl Fn(&str) -> http::Request<String>,
) -> (u16, String)
where
    S: Service<http::Request<String>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body<Error: std::fmt::Debug>,
{
    body_of(
        service
            .ready()
            .await
            .unwrap()
            .call(call("/health"))
            .await
            .unwrap(),
    )
    .await
}

/// The statuses of `count` calls of `/v1/memories` through `service`.
async fn statuses_of<S, B>(
    service: &mut S,
    call: &impl Fn(&str) -> http::Request<String>,
    count: usize,
) -> Vec<u16>
where
    S: Service<http::Request<String>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
{
    let mut out = Vec::new();
    for _ in 0..count {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(call("/v1/memories"))
            .await
            .unwrap();
        out.push(response.status().as_u16());
    }
    out
}
