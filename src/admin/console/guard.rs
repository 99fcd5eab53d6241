//! What wraps every console request: the session cookie, the token re-check, the read role's
//! refusal of POSTs, the CSRF check, and the call's audit event (the admin API's own).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::page::ConsoleError;
use super::session::{CsrfToken, Session, cookie_of};
use crate::admin::AdminApi;
use crate::admin::call::{CallMeta, is_read};
use crate::admin::problem::{AdminError, ProblemCode};
use crate::key::AdminRole;

/// The largest form the console reads.
const MAX_FORM: usize = 64 * 1024;

/// Who a console request comes from, for its handler.
#[derive(Clone, Debug)]
pub(crate) struct ConsoleUser {
    /// The admin token's id.
    pub(crate) token_id: Arc<str>,
    /// Its role now.
    pub(crate) role: AdminRole,
    /// The session's form token, for the page's forms.
    pub(crate) csrf: CsrfToken,
}

impl ConsoleUser {
    /// Whether the pages offer controls that change anything.
    pub(crate) fn can_write(&self) -> bool {
        self.role == AdminRole::Admin
    }
}

/// The admin token a login authenticated, in its answer's extensions for the audit event.
#[derive(Clone, Debug)]
pub(crate) struct LoggedIn(pub(crate) Arc<str>);

/// Runs the checks, then the handler, and records the call in the audit chain.
pub(crate) async fn console_call(
    State(api): State<AdminApi>,
    request: Request,
    next: Next,
) -> Response {
    let meta = CallMeta::of(&api, &request);
    let (response, token) = guard(&api, request, next).await;
    let token = token.or_else(|| response.extensions().get::<LoggedIn>().map(|l| l.0.clone()));
    let token = token.as_deref().unwrap_or("none").to_owned();
    let mut response = meta.finish(&api, &token, response).await;
    // Scripts only the console's own file, no frame around the pages (clickjacking), forms
    // only to the console itself.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
             form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The pages' addresses carry filters (key ids, projects): no other site is told them.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn guard(api: &AdminApi, mut request: Request, next: Next) -> (Response, Option<Arc<str>>) {
    if request.uri().path() == "/admin/login" {
        return (next.run(request).await, None);
    }
    let now = api.now();
    let session = cookie_of(request.headers()).and_then(|id| {
        let session = api.sessions().touch(&id, now)?;
        // The token's record is read again: a reload that removed it ends the session.
        match api
            .tokens()
            .still_listed(&session.token_id, &session.token_hash)
        {
            Some(role) => {
                let mut session = session;
                session.role = role;
                Some(session)
            }
            None => {
                api.sessions().close(&id);
                None
            }
        }
    });
    let Some(session) = session else {
        return (no_session(&request), None);
    };
    let token = Some(session.token_id.clone());
    if !is_read(request.method()) {
        // Logging out changes nothing but the session: a read session may.
        if session.role == AdminRole::Read && request.uri().path() != "/admin/logout" {
            let error = AdminError::new(
                StatusCode::FORBIDDEN,
                "read_only_token",
                format!(
                    "admin token `{}` has the read role: it may only look",
                    session.token_id
                ),
            );
            return (ConsoleError(error).into_response(), token);
        }
        request = match checked_form(request, &session).await {
            Ok(request) => request,
            Err(error) => return (ConsoleError(error).into_response(), token),
        };
    }
    request.extensions_mut().insert(ConsoleUser {
        token_id: session.token_id.clone(),
        role: session.role,
        csrf: session.csrf.clone(),
    });
    (next.run(request).await, token)
}

/// No live session: a page asks to log in, and so does a logout (the session it would end is
/// over already); anything else is refused.
fn no_session(request: &Request) -> Response {
    let mut response = if is_read(request.method()) || request.uri().path() == "/admin/logout" {
        Redirect::to("/admin/login").into_response()
    } else {
        ConsoleError(AdminError::new(
            StatusCode::UNAUTHORIZED,
            "no_session",
            "log in first",
        ))
        .into_response()
    };
    response.extensions_mut().insert(ProblemCode("no_session"));
    response
}

/// Only the form's CSRF field, whatever else it has.
#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

/// The request, its form read once and put back, when the form carries the session's token.
async fn checked_form(request: Request, session: &Session) -> Result<Request, AdminError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| AdminError::bad_request("the form could not be read"))?;
    let copy = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let field = axum::Form::<CsrfField>::from_request(copy, &()).await;
    let matches = match field {
        Ok(axum::Form(CsrfField { csrf: Some(csrf) })) => session.csrf.matches(&csrf),
        _ => false,
    };
    if !matches {
        return Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "csrf_refused",
            "the form's CSRF token is missing or wrong: reload the page and try again",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
