//! The admin API (section 12 of the design; feature `admin`): an axum [`Router`] over a
//! [`Deployment`]'s keys, plans and audit log, for operators and their tools.
//!
//! Mount it where you like, on a listener only operators reach (the `memorysync` binary serves
//! it on `--admin-listen`, never on the public one). Every call needs an admin token
//! (`Authorization: Bearer msa_...`, made by `memorysync admin-token`, listed by its SHA-256 in
//! `[[admin_tokens]]`); a `read` token may only `GET`. Every call, refused ones included, is an
//! event in the deployment's audit chain: method, path, status, the target key and project, and
//! `detail` = `admin token=<id> result=<ok or the problem's code>`. Errors are problem+json with
//! a `code`; lists are paginated (`?cursor=&limit=`, answering `{"items", "next_cursor"}`).
//!
//! The same router serves a web console under `/admin/`: HTML pages (askama templates, no
//! JavaScript) over these handlers, behind a login with an admin token into a session cookie,
//! every form CSRF-checked, every request audited like an API call (see
//! [`AdminApi::secure_cookies`] and the README's "The admin console").
//!
//! ```no_run
//! # async fn run(config: memorysync_pipeline::config::Config) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use memorysync_pipeline::admin::{AdminApi, AdminTokens};
//! use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
//!
//! let deployment = Arc::new(Deployment::start(&config, DeploymentOptions::new()).await?);
//! let admin = AdminApi::new(Arc::clone(&deployment), AdminTokens::new(config.admin_tokens.clone()));
//! let app: axum::Router = admin.router(); // serve it on an operators' listener
//! # let _ = app; Ok(()) }
//! ```
//!
//! # Decisions
//! - Ownership (section 4): the API changes only the records it manages; a change to a key or a
//!   plan the config file manages is 409 `owned_by_config`, whose message says to edit the
//!   file. Revocation works on any key.
//! - A key is created only for a project with a plan (a typo would otherwise make a key no
//!   quota meters), and only for an environment the deployment accepts (a production
//!   deployment refuses development keys, so it does not make them).
//! - Rotation keeps the old key's project, environment and limits; the old key's expiry becomes
//!   the end of the grace (or stays, when earlier). Rotating a key the file manages is refused:
//!   the file's rotation is an edit of the file.
//! - A project's tile shows, per operation, the month's use, the plan's limit and
//!   `alerts_fired`: the plan's thresholds that use has reached, each of which alerted when it
//!   was crossed. A plan changed mid-month is read against the use so far.
//! - `POST /projects` creates (409 `project_exists` when any plan has the id, the file's
//!   included); `PUT /projects/{id}/plan` replaces an API-owned plan (404 for an unknown
//!   project, 409 `owned_by_config` for the file's).
//! - A cursor is the base64url of the last id given: pages stay right while records change.
//! - Answers carry `Cache-Control: no-store` and the call's `X-Request-Id`.
//! - Token checks compare the hash with every listed token, matched or not, in constant time.

mod audit;
mod call;
mod console;
mod deliveries;
mod endpoints;
mod extract;
mod key_view;
mod keys;
mod openapi;
mod page;
mod problem;
mod projects;
mod tokens;
mod values;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

pub use tokens::{AdminCaller, AdminTokens};

use crate::clock::Timestamp;
use crate::deployment::Deployment;
use crate::environment::Environment;
use problem::AdminError;

/// The admin API of one deployment. Cheap to clone.
#[derive(Clone)]
pub struct AdminApi {
    inner: Arc<Inner>,
}

struct Inner {
    deployment: Arc<Deployment>,
    tokens: AdminTokens,
    sessions: console::session::Sessions,
    /// One verification of the audit chain at a time: each reads the whole log.
    verifying: tokio::sync::Semaphore,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("instance", &self.inner.deployment.instance())
            .field("tokens", &self.inner.tokens)
            .finish()
    }
}

impl AdminApi {
    /// The admin API of `deployment`, for callers holding one of `tokens`.
    pub fn new(deployment: Arc<Deployment>, tokens: AdminTokens) -> Self {
        AdminApi {
            inner: Arc::new(Inner {
                deployment,
                tokens,
                sessions: console::session::Sessions::default(),
                verifying: tokio::sync::Semaphore::new(1),
            }),
        }
    }

    /// The routes: the API under `/admin/v1/`, where every answer, an unknown path's 404
    /// included, comes after the token check; and the web console's pages under `/admin/`
    /// (login, overview, keys, projects, webhooks), behind a session. Merge it into a router of your own,
    /// or serve it alone.
    pub fn router(&self) -> Router {
        let v1 = Router::new()
            .route("/keys", get(keys::list).post(keys::create))
            .route("/keys/{id}", get(keys::show).patch(keys::update))
            .route("/keys/{id}/rotate", post(keys::rotate))
            .route("/keys/{id}/revoke", post(keys::revoke))
            .route("/projects", get(projects::list).post(projects::create))
            .route("/projects/{id}", get(projects::show))
            .route("/projects/{id}/plan", put(projects::set_plan))
            .route(
                "/webhooks/endpoints",
                get(endpoints::list).post(endpoints::create),
            )
            .route(
                "/webhooks/endpoints/{id}",
                get(endpoints::show)
                    .patch(endpoints::update)
                    .delete(endpoints::delete),
            )
            .route("/webhooks/endpoints/{id}/enable", post(endpoints::enable))
            .route(
                "/webhooks/endpoints/{id}/rotate-secret",
                post(endpoints::rotate_secret),
            )
            .route("/webhooks/attempts", get(deliveries::attempts))
            .route("/webhooks/dead-letters", get(deliveries::dead_letters))
            .route(
                "/webhooks/dead-letters/replay",
                post(deliveries::replay_since),
            )
            .route(
                "/webhooks/dead-letters/{id}/replay",
                post(deliveries::replay_one),
            )
            .route("/audit", get(audit::query))
            .route("/audit/verify", get(audit::verify))
            .route("/openapi.json", get(openapi::document))
            .fallback(|| async {
                AdminError::not_found("not_found", "no admin route has this path")
            })
            .method_not_allowed_fallback(|| async {
                AdminError::new(
                    http::StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "this admin route does not take this method",
                )
            })
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                call::admin_call,
            ))
            .with_state(self.clone());
        Router::new()
            .nest("/admin/v1", v1)
            .merge(console::routes(self))
    }

    /// Marks the console's session cookie `Secure`: call it with `true` when the listener
    /// serves TLS (a browser then never sends the cookie in clear). Off by default.
    pub fn secure_cookies(self, secure: bool) -> Self {
        self.inner.sessions.set_secure(secure);
        self
    }

    pub(crate) fn sessions(&self) -> &console::session::Sessions {
        &self.inner.sessions
    }

    /// The permit to verify the audit chain, unless a verification is under way.
    pub(crate) fn verification(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.inner.verifying.try_acquire().ok()
    }

    /// The OpenAPI 3.1 document of the routes, as `GET /admin/v1/openapi.json` answers it.
    pub fn openapi() -> utoipa::openapi::OpenApi {
        openapi::document_value()
    }

    /// The tokens in force; [`AdminTokens::replace`] them when the config file is reloaded.
    pub fn tokens(&self) -> &AdminTokens {
        &self.inner.tokens
    }

    pub(crate) fn deployment(&self) -> &Deployment {
        &self.inner.deployment
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.deployment.clock().now()
    }

    /// Refuses to make a key the deployment's authentication would refuse.
    pub(crate) fn check_environment(&self, environment: Environment) -> Result<(), AdminError> {
        if self.inner.deployment.environment() == Environment::Production
            && environment == Environment::Development
        {
            return Err(AdminError::invalid(
                "a production deployment refuses development keys: create a production key",
            ));
        }
        Ok(())
    }
}
