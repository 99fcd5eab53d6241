//! What the pipeline benches share: an audit sink that keeps nothing, deterministic keys, the
//! request they send and the trivial handler behind the pipeline.
#![allow(dead_code)] // each bench uses part of it

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};
use http_body_util::Full;
use memorysync_pipeline::audit::{AuditLog, AuditRecordLayer, AuditSink, ChainHead, ChainedLine};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::health::HealthRouteLayer;
use memorysync_pipeline::key::{ApiKey, KEY_LEN, MemoryKeyStore};
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::tombstone::MemoryTombstones;
use memorysync_pipeline::{ClientAddr, Environment};
use tower::{Layer, Service, service_fn};

/// The project every admitted request is for.
pub(crate) const PROJECT: &str = "proj_bench";
/// The search request's body.
pub(crate) const SEARCH_BODY: &[u8] = br#"{"query":"bench"}"#;
/// The handler's answer.
pub(crate) const ANSWER: &[u8] = br#"{"results":[]}"#;

pub(crate) type Req = Request<Full<Bytes>>;

/// Chained lines are counted and dropped: the writer still serialises and hashes every event
/// (that is the stage's own cost), but nothing accumulates in memory over millions of requests.
#[derive(Clone, Debug, Default)]
pub(crate) struct DiscardSink {
    written: Arc<AtomicU64>,
}

impl DiscardSink {
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

impl AuditSink for DiscardSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        self.written
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn purge_before(&self, _cutoff: Timestamp) -> io::Result<usize> {
        Ok(0)
    }

    fn head(&self) -> io::Result<ChainHead> {
        Ok(ChainHead::default())
    }
}

/// The trivial inner service: a small JSON answer, no allocation of its own.
pub(crate) fn handler()
-> impl Service<Req, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send> + Clone + Send
{
    service_fn(|_: Req| async {
        let mut response = Response::new(Full::new(Bytes::from_static(ANSWER)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok::<_, Infallible>(response)
    })
}

/// `Bearer <key>` as a header value built once; cloning it per request is a reference count.
pub(crate) fn bearer(key: &str) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from(format!("Bearer {key}"))).unwrap()
}

/// What one request carries; every field is cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct RequestSpec {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) project: Option<HeaderValue>,
}

impl RequestSpec {
    /// `POST /v1/memories/search` (a metered query) with this key and project.
    pub(crate) fn search(
        authorization: Option<HeaderValue>,
        project: Option<&'static str>,
    ) -> Self {
        RequestSpec {
            method: Method::POST,
            path: "/v1/memories/search",
            authorization,
            project: project.map(HeaderValue::from_static),
        }
    }

    /// `GET /health`, no key.
    pub(crate) fn health() -> Self {
        RequestSpec {
            method: Method::GET,
            path: "/health",
            authorization: None,
            project: None,
        }
    }

    /// The request as a server would hand it over: headers of a typical client and the peer
    /// address in `ClientAddr` (what the server example records from axum's `ConnectInfo`).
    pub(crate) fn build(&self) -> Req {
        let body = if self.method == Method::POST {
            Bytes::from_static(SEARCH_BODY)
        } else {
            Bytes::new()
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = http::Uri::from_static(self.path);
        let headers = request.headers_mut();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static("memorysync-bench/1.0"),
        );
        if self.method == Method::POST {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(value) = &self.authorization {
            headers.insert(header::AUTHORIZATION, value.clone());
        }
        if let Some(value) = &self.project {
            headers.insert("x-project-id", value.clone());
        }
        request
            .extensions_mut()
            .insert(ClientAddr(SocketAddr::from(([127, 0, 0, 1], 50_000))));
        request
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The `i`-th key of a deterministic series of development (`msk_test_`) keys: the same text
/// every time, so a bench with a million keys need not hold their texts. Built by the format of
/// section 4 (base62 body, base62 CRC32 of the rest) and checked by `ApiKey::parse`.
pub(crate) fn nth_key(i: u64) -> [u8; KEY_LEN] {
    let mut text = [b'0'; KEY_LEN];
    text[..9].copy_from_slice(b"msk_test_");
    // 32 body characters: the index in base62 (11 digits hold any u64), then a fixed filler
    // mixed from the index so neighbouring keys do not share long prefixes.
    let mut n = i;
    for slot in text[9..20].iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut mix = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for slot in text[20..41].iter_mut() {
        *slot = BASE62[(mix % 62) as usize];
        mix = mix.rotate_left(7).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    let mut crc = crc32fast::hash(&text[..41]);
    for slot in text[41..].iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    debug_assert!(ApiKey::parse_bytes(&text).is_ok());
    text
}

/// What [`full_pipeline`] is built from.
pub(crate) struct Stages {
    pub(crate) keys: MemoryKeyStore,
    pub(crate) log: AuditLog,
    pub(crate) tombstones: MemoryTombstones,
    pub(crate) health_rps: NonZeroU32,
    pub(crate) limiter: SlidingWindowRateLimitLayer,
    pub(crate) plans: QuotaPlans,
}

/// The six stages as the server example stacks them (without its `TraceLayer`), on the
/// in-memory stores and the system clock, in front of `inner`.
pub(crate) fn full_pipeline<S>(
    inner: S,
    stages: Stages,
) -> impl Service<Req, Response = Response<impl Sized>, Error = Infallible> + Clone
where
    S: Service<Req, Response = Response<Full<Bytes>>, Error = Infallible> + Clone + Send + 'static,
{
    let health = HealthRouteLayer::new()
        .with_per_ip_rps(stages.health_rps)
        .with_check(stages.log.health_check());
    PipelineBuilder::new()
        .stage(health)
        .stage(AuditRecordLayer::new(stages.log).with_tombstones(stages.tombstones))
        .stage(ApiKeyAuthLayer::new(stages.keys, Environment::Development))
        .stage(ProjectScopeLayer::new())
        .stage(stages.limiter)
        .stage(QuotaDegradeLayer::new(stages.plans).with_alerts(|_| {}))
        .into_layer()
        .layer(inner)
}
