//! What authentication costs per request on the in-memory store: parsing and hashing a key, and
//! a request through `ApiKeyAuth` + `ProjectScope` versus the bare inner service.
//!
//! `cargo bench --bench auth`; figures go into BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
use memorysync_pipeline::scope::ProjectScopeLayer;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

fn key_format(c: &mut Criterion) {
    let key = ApiKey::generate(Environment::Production).unwrap();
    let text = key.expose_secret().to_owned();
    c.bench_function("key/parse", |b| {
        b.iter(|| ApiKey::parse(black_box(&text)).unwrap())
    });
    c.bench_function("key/parse+sha256", |b| {
        b.iter(|| ApiKey::parse(black_box(&text)).unwrap().hash())
    });
}

fn request(key: &ApiKey) -> http::Request<()> {
    http::Request::get("/v1/memories")
        .header("authorization", format!("Bearer {}", key.expose_secret()))
        .header("x-project-id", "proj_bench")
        .body(())
        .unwrap()
}

fn auth_and_scope(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let key = ApiKey::generate(Environment::Production).unwrap();
    let store = MemoryKeyStore::new();
    let record = KeyRecord::new(
        "key_bench",
        key.hash(),
        "proj_bench",
        Environment::Production,
    );
    runtime
        .block_on(store.insert(record, Timestamp::EPOCH))
        .unwrap();
    // 10k other keys, so the look-up is not into a map of one.
    for i in 0..10_000 {
        let other = ApiKey::generate(Environment::Production).unwrap();
        let record = KeyRecord::new(
            format!("key_{i}"),
            other.hash(),
            "proj_bench",
            Environment::Production,
        );
        runtime
            .block_on(store.insert(record, Timestamp::EPOCH))
            .unwrap();
    }
    let inner =
        service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) });
    let mut bare = inner;
    let mut piped = ServiceBuilder::new()
        .layer(ApiKeyAuthLayer::new(store, Environment::Development))
        .layer(ProjectScopeLayer::new())
        .service(inner);

    let mut group = c.benchmark_group("request");
    group.bench_function("bare", |b| {
        b.iter(|| {
            runtime.block_on(async {
                bare.ready()
                    .await
                    .unwrap()
                    .call(request(&key))
                    .await
                    .unwrap()
            })
        })
    });
    group.bench_function("auth+scope admitted", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = piped
                    .ready()
                    .await
                    .unwrap()
                    .call(request(&key))
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            })
        })
    });
    let unknown = ApiKey::generate(Environment::Production).unwrap();
    group.bench_function("auth+scope unknown key (401)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                piped
                    .ready()
                    .await
                    .unwrap()
                    .call(request(&unknown))
                    .await
                    .unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, key_format, auth_and_scope);
criterion_main!(benches);
