//! The admin console: server-rendered HTML pages under `/admin/` over the admin API's own
//! handlers, for operators with a browser.
//!
//! [`AdminApi::router`](crate::admin::AdminApi::router) serves it beside `/admin/v1/`; a
//! listener that serves TLS says so with
//! [`AdminApi::secure_cookies`](crate::admin::AdminApi::secure_cookies).
//!
//! # Decisions
//! - Templates are askama's: compiled into the binary from `templates/console/`, HTML-escaped
//!   by default, no files read at run time. Every control is a form and works without
//!   JavaScript; one static script (`/admin/console.js`, the only one the policy allows) adds
//!   a copy button beside a key shown once.
//! - Login posts an admin token; the answer is a session cookie (`msc_session`: a random id,
//!   `HttpOnly`, `SameSite=Strict`, `Path=/admin`, `Secure` over TLS). Sessions live in memory
//!   (a restart logs everyone out; two instances each hold their own), end 8 hours after login
//!   or 30 minutes after their last request by the deployment's clock, and hold the token's id,
//!   role and hash, never the token. Each request reads the token set again: a reload that
//!   removes (or replaces) the token ends its sessions, and a changed role takes effect. An
//!   instance keeps at most 10,000 sessions, and one token at most 32: a login beyond either
//!   ends the least recently used session (of that token first), so one token logging in in a
//!   loop cannot end other operators' sessions. A login ends the session the browser came with.
//!   A logout without a live session leads to the login form, as one with it does.
//! - Every POST but the login carries the session's CSRF token in a form field, compared in
//!   constant time; without it, or with a wrong one, the answer is 403 `csrf_refused`. A login
//!   a browser says came from another site (`Sec-Fetch-Site: cross-site`) is 403
//!   `csrf_refused` too; a login form that does not parse is 400 `bad_request`.
//! - A `read` session's pages have no form but the logout, and its POSTs are 403.
//! - Every console request but the one static script (`/admin/console.js`) is an event in the
//!   audit chain, as an admin API call is: the same fields, `detail` = `admin token=<id>
//!   result=<ok or the code>`, the key and project the action named. Actions run the admin API's own handlers, so their checks are the API's.
//! - Lists show the first 500 items (the API's largest page); the audit log and the delivery
//!   attempts are shown 100 lines at a time, newest first, with a link to the older ones that
//!   keeps the filters. The chain's verification reads the whole log, so it is a page of its
//!   own (`/admin/audit/verify`), run when asked.

mod actions;
mod audit;
mod guard;
mod login;
mod page;
mod pages;
pub(crate) mod session;
mod views;
mod webhooks;

use axum::Router;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use http::header;

use super::AdminApi;

/// The console's routes, each behind the session check and audited.
pub(crate) fn routes(api: &AdminApi) -> Router {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(pages::overview))
        .route("/admin/login", get(login::form).post(login::login))
        .route("/admin/logout", post(login::logout))
        .route("/admin/keys", get(pages::keys).post(actions::create_key))
        .route("/admin/keys/{id}/rotate", post(actions::rotate_key))
        .route(
            "/admin/keys/{id}/revoke",
            get(pages::confirm_revoke).post(actions::revoke_key),
        )
        .route("/admin/projects", get(pages::projects))
        .route("/admin/projects/{id}/plan", post(actions::set_plan))
        .route("/admin/webhooks", get(webhooks::page))
        .route("/admin/webhooks/attempts", get(webhooks::attempts))
        .route(
            "/admin/webhooks/endpoints/{id}/enable",
            post(webhooks::enable),
        )
        .route(
            "/admin/webhooks/dead-letters/{id}/replay",
            post(webhooks::replay),
        )
        .route("/admin/audit", get(audit::page))
        .route("/admin/audit/verify", get(audit::verify))
        .route_layer(axum::middleware::from_fn_with_state(
            api.clone(),
            guard::console_call,
        ))
        // Outside the session check: a static file, the same for everyone.
        .route("/admin/console.js", get(script))
        .with_state(api.clone())
}

/// `GET /admin/console.js`: the copy button's script.
async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../../templates/console/console.js"),
    )
}
