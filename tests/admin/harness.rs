//! One deployment with its admin router, an admin and a read token, a manual clock, and the
//! pipeline around a memory-API stand-in, driven by `oneshot`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use memorysync_pipeline::admin::{AdminApi, AdminTokens};
use memorysync_pipeline::audit::{AuditQuery, MemoryAuditSink};
use memorysync_pipeline::clock::ManualClock;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::key::{AdminToken, ApiKey};
use memorysync_pipeline::webhook::endpoints::SecretKey;
use memorysync_pipeline::{ClientAddr, Environment};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::common::T0;

/// The project every config here has: 3 adds and 100 queries a month.
pub(crate) const PROJECT: &str = "proj_demo";
/// The key the config file manages.
pub(crate) const FILE_KEY: &str = "key_file";

/// Where the deployment keeps its state.
pub(crate) enum Backend<'a> {
    Memory,
    Embedded(&'a Path),
    #[cfg(feature = "redis")]
    Redis(&'a str),
}

pub(crate) struct Admin {
    pub(crate) deployment: Arc<Deployment>,
    pub(crate) router: Router,
    pub(crate) admin: AdminToken,
    pub(crate) reader: AdminToken,
    pub(crate) file_key: ApiKey,
    pub(crate) clock: ManualClock,
    _secrets: tempfile::TempDir,
}

/// A development config with `proj_demo`, the file's key and the two tokens' entries.
pub(crate) fn config_text(
    backend: &Backend<'_>,
    file_key: &ApiKey,
    admin: &AdminToken,
    reader: &AdminToken,
    sealing_key: &Path,
) -> String {
    let store = match backend {
        Backend::Memory => String::new(),
        // The audit log in JSON Lines beside the store: read back by the audit routes.
        Backend::Embedded(dir) => format!(
            "[store]\nbackend = \"embedded\"\npath = \"{}\"\n[audit]\ndir = \"{}\"\n",
            dir.display(),
            dir.join("audit").display()
        ),
        #[cfg(feature = "redis")]
        Backend::Redis(url) => {
            format!(
                "[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\non_store_error = \"deny\"\n"
            )
        }
    };
    format!(
        "environment = \"development\"\n{store}\
         [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 3\nqueries_per_month = 100\n\
         [[keys]]\nid = \"{FILE_KEY}\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n\
         [[admin_tokens]]\nid = \"tok_ops\"\nsha256 = \"{}\"\nrole = \"admin\"\n\
         [[admin_tokens]]\nid = \"tok_read\"\nsha256 = \"{}\"\nrole = \"read\"\n\
         [admin]\nsecret_key_file = \"{}\"\n",
        file_key.hash().to_hex(),
        admin.hash().to_hex(),
        reader.hash().to_hex(),
        sealing_key.display(),
    )
}

impl Admin {
    pub(crate) async fn start(backend: Backend<'_>) -> Self {
        Self::start_with(
            backend,
            ApiKey::generate(Environment::Development).unwrap(),
            AdminToken::generate().unwrap(),
            "node-a",
        )
        .await
    }

    /// A deployment with these secrets (a second instance, or a restart, shares them).
    pub(crate) async fn start_with(
        backend: Backend<'_>,
        file_key: ApiKey,
        admin: AdminToken,
        instance: &str,
    ) -> Self {
        let reader = AdminToken::generate().unwrap();
        // The key that seals endpoint secrets, in a file only its owner reads; derived from the
        // admin token so that a second instance or a restart (given the same token) opens the
        // secrets the first one sealed.
        let secrets = tempfile::tempdir().unwrap();
        let sealing_key = secrets.path().join("sealing.key");
        let bytes: [u8; 32] = Sha256::digest(admin.expose_secret()).into();
        std::fs::write(&sealing_key, SecretKey::from_bytes(bytes).to_base64()).unwrap();
        std::fs::set_permissions(&sealing_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = config_text(&backend, &file_key, &admin, &reader, &sealing_key);
        let config = Config::from_toml(&text).unwrap();
        let clock = ManualClock::new(T0);
        let mut options = DeploymentOptions::new()
            .with_clock(clock.clone())
            .with_instance(instance);
        if matches!(backend, Backend::Memory) {
            options = options.with_audit_sink(MemoryAuditSink::new());
        }
        let deployment = Arc::new(Deployment::start(&config, options).await.unwrap());
        let tokens = AdminTokens::new(config.admin_tokens.clone());
        let router = AdminApi::new(Arc::clone(&deployment), tokens).router();
        Admin {
            deployment,
            router,
            admin,
            reader,
            file_key,
            clock,
            _secrets: secrets,
        }
    }

    /// Two instances, `node-a` and `node-b`, sharing a `redis-server` of the test's own (kept
    /// alive by the returned handle), or `None` (after a printed line) without a test Redis.
    #[cfg(feature = "redis")]
    pub(crate) async fn pair_on_redis() -> Option<(crate::common::redis::RedisServer, Admin, Admin)>
    {
        let redis = crate::common::redis::RedisServer::start()?;
        redis.until_answers().await;
        let url = redis.url();
        let a = Admin::start(Backend::Redis(&url)).await;
        let b = Admin::start_with(
            Backend::Redis(&url),
            a.file_key.clone(),
            a.admin.clone(),
            "node-b",
        )
        .await;
        Some((redis, a, b))
    }

    /// `method path` with the admin token and `body` as JSON.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = self.admin.expose_secret().to_owned();
        let (status, _, body) = self.call_as(Some(&token), method, path, body).await;
        (status, body)
    }

    /// `method path` with `token` (none: no `Authorization`), answered with its headers.
    pub(crate) async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    /// Any request to the admin router.
    pub(crate) async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (parts.status, parts.headers, value)
    }

    /// A memory add through the pipeline with `key`: its status and rejection code, if any.
    pub(crate) async fn add_with(&self, key: &str) -> (StatusCode, Option<String>) {
        let (status, body) = self.add_to(key, PROJECT).await;
        (status, body["code"].as_str().map(str::to_owned))
    }

    /// Whether an add to `project` with `key` was served (`true`) or degraded (`false`).
    pub(crate) async fn served(&self, key: &str, project: &str) -> bool {
        let (status, body) = self.add_to(key, project).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        !body["results"].as_array().unwrap().is_empty()
    }

    /// A memory add to `project` through the pipeline with `key`: its status and JSON body.
    pub(crate) async fn add_to(&self, key: &str, project: &str) -> (StatusCode, Value) {
        let api = tower::service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(
                r#"{"results":[{"id":"m"}]}"#,
            )))
        });
        let app = self.deployment.layer().around(api);
        let mut request = Request::post("/v1/memories")
            .header("authorization", format!("Bearer {key}"))
            .header("x-project-id", project)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"text":"a"}"#))
            .unwrap();
        request
            .extensions_mut()
            .insert(ClientAddr(([127, 0, 0, 1], 40000).into()));
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The audit lines written so far (the last 500), oldest first.
    pub(crate) async fn audit_lines(&self) -> Vec<Value> {
        self.deployment.audit().flush().await;
        let mut query = AuditQuery::new();
        query.limit = AuditQuery::MAX_LIMIT;
        let page = self
            .deployment
            .audit_source()
            .query_async(query)
            .await
            .unwrap();
        page.items.into_iter().rev().collect()
    }
}
