//! Fixtures shared by the integration tests: a recording inner service, a key in a store, a
//! manual clock, and assertions on the answers the stages give; the whole pipeline in one
//! `stack`, the Redis harness, and the reference implementation of Standard Webhooks.
#![allow(dead_code, clippy::unwrap_used)]

pub(crate) mod api_plans;
pub(crate) mod audit_crash;
pub(crate) mod audit_read;
pub(crate) mod captured;
#[cfg(feature = "webhook-client")]
pub(crate) mod hooks;
pub(crate) mod key_record;
pub(crate) mod plan_store;
pub(crate) mod reconcile;
#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(feature = "redis")]
pub(crate) mod redis_cluster;
pub(crate) mod stack;
pub(crate) mod standardwebhooks;
#[cfg(feature = "webhook-client")]
pub(crate) mod suites;

use std::convert::Infallible;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::{ApiKeyAuthLayer, Principal};
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::key::{ApiKey, KeyRecord, KeyStore, MemoryKeyStore};
use memorysync_pipeline::scope::Scope;
use tower::{Layer, Service, ServiceExt, service_fn};

/// The instant every test starts at: 2027-01-15T08:00:00Z.
pub(crate) const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);
pub(crate) const PROJECT: &str = "proj_demo";
pub(crate) const KEY_ID: &str = "key_demo";

/// What the inner service saw: how often it was called, and the extensions of the last call.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    calls: AtomicUsize,
    principal: Mutex<Option<Principal>>,
    scope: Mutex<Option<Scope>>,
}

impl Recorder {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn principal(&self) -> Option<Principal> {
        self.principal.lock().unwrap().clone()
    }

    pub(crate) fn scope(&self) -> Option<Scope> {
        self.scope.lock().unwrap().clone()
    }
}

/// An inner service that answers 200 `inner` and records each call in `recorder`.
pub(crate) fn recording_service(
    recorder: &Arc<Recorder>,
) -> impl Service<Request<String>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone + Debug
{
    let recorder = Arc::clone(recorder);
    service_fn(move |request: Request<String>| {
        let recorder = Arc::clone(&recorder);
        async move {
            recorder.calls.fetch_add(1, Ordering::SeqCst);
            *recorder.principal.lock().unwrap() = request.extensions().get::<Principal>().cloned();
            *recorder.scope.lock().unwrap() = request.extensions().get::<Scope>().cloned();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
        }
    })
}

/// One key of `PROJECT` in a store, a manual clock at `T0`, and a recorder for the inner service.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub(crate) key: ApiKey,
    pub(crate) store: MemoryKeyStore,
    pub(crate) clock: ManualClock,
    pub(crate) recorder: Arc<Recorder>,
}

impl Fixture {
    /// A development key filed as `KEY_ID` under `PROJECT`, development environment.
    pub(crate) async fn new() -> Self {
        Self::with_key(Environment::Development, |record| record).await
    }

    /// A key of `environment`, its record adjusted by `edit` before it is stored.
    pub(crate) async fn with_key(
        environment: Environment,
        edit: impl FnOnce(KeyRecord) -> KeyRecord,
    ) -> Self {
        let key = ApiKey::generate(environment).unwrap();
        let store = MemoryKeyStore::new();
        let record = KeyRecord::new(KEY_ID, key.hash(), PROJECT, environment);
        store.insert(edit(record), T0).await.unwrap();
        Fixture {
            key,
            store,
            clock: ManualClock::new(T0),
            recorder: Arc::default(),
        }
    }

    /// The auth layer over this fixture's store and clock, in a development deployment.
    pub(crate) fn auth_layer(&self) -> ApiKeyAuthLayer<MemoryKeyStore> {
        ApiKeyAuthLayer::new(self.store.clone(), Environment::Development)
            .with_clock(self.clock.clone())
    }

    /// Sends `request` through this fixture's auth layer and inner service.
    pub(crate) async fn through_auth(&self, request: Request<String>) -> Reply {
        send(
            self.auth_layer().layer(recording_service(&self.recorder)),
            request,
        )
        .await
    }

    /// The request is refused by auth with 401 and `code`, and never reaches the inner service.
    pub(crate) async fn assert_refused(&self, request: Request<String>, code: &str) {
        assert_problem(&self.through_auth(request).await, 401, code);
        assert_eq!(self.recorder.calls(), 0, "the inner service was called");
    }

    /// The request passes auth and reaches the inner service once.
    pub(crate) async fn assert_admitted(&self, request: Request<String>) {
        let before = self.recorder.calls();
        let reply = self.through_auth(request).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.text(), "inner");
        assert_eq!(self.recorder.calls(), before + 1);
    }

    /// `GET /v1/memories` with this fixture's key in `X-API-Key`.
    pub(crate) fn keyed(&self) -> Request<String> {
        get_with(&[("x-api-key", self.secret())])
    }

    /// `GET /v1/memories` with this fixture's key in `Authorization: Bearer`.
    pub(crate) fn bearer_request(&self) -> Request<String> {
        get_with(&[("authorization", &self.bearer())])
    }

    pub(crate) fn secret(&self) -> &str {
        self.key.expose_secret()
    }

    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.secret())
    }
}

/// `GET /v1/memories` with these headers.
pub(crate) fn get_with(headers: &[(&str, &str)]) -> Request<String> {
    let mut builder = Request::get("/v1/memories");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(String::new()).unwrap()
}

/// `GET /v1/memories` whose header `name` has the raw bytes `value`.
pub(crate) fn get_raw(name: &str, value: &[u8]) -> Request<String> {
    Request::get("/v1/memories")
        .header(name, HeaderValue::from_bytes(value).unwrap())
        .body(String::new())
        .unwrap()
}

/// A response with its body read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) trailers: Option<HeaderMap>,
}

impl Reply {
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no `{name}` header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

/// Sends `request` through `service` and reads the whole response.
pub(crate) async fn send<S, ReqBody, B>(service: S, request: Request<ReqBody>) -> Reply
where
    S: Service<Request<ReqBody>, Response = Response<B>>,
    S::Error: Debug,
    B: http_body::Body,
    B::Error: Debug,
{
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

/// The reply is an RFC 9457 problem with this status and code, does not even mention `msk_`, and
/// has `WWW-Authenticate: Bearer` exactly when it is a 401.
#[track_caller]
pub(crate) fn assert_problem(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "status of {reply:?}");
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let problem = reply.json();
    assert_eq!(problem["code"], code, "code of {problem}");
    assert_eq!(problem["status"], status, "status member of {problem}");
    for member in ["type", "title", "detail"] {
        assert!(
            problem[member].is_string(),
            "`{member}` missing in {problem}"
        );
    }
    assert!(!reply.text().contains("msk_"), "`msk_` in {}", reply.text());
    let challenge = reply.headers.get("www-authenticate");
    if status == 401 {
        assert_eq!(challenge.map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
    } else {
        assert_eq!(challenge, None, "WWW-Authenticate on a {status}");
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `head` followed by its six base62 digits of CRC32: a key text whose checksum is right whatever
/// the prefix says.
pub(crate) fn with_checksum(head: &str) -> String {
    let mut value = crc32fast::hash(head.as_bytes());
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    format!("{head}{}", std::str::from_utf8(&digits).unwrap())
}
