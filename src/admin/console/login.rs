//! Login with an admin token (a form POST) into a session, and logout.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::guard::LoggedIn;
use super::page::{ConsoleError, Form, html};
use super::session::cookie_of;
use crate::admin::AdminApi;
use crate::admin::call::refused;
use crate::admin::problem::{AdminError, ProblemCode};

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    /// Why the last attempt failed.
    refusal: Option<&'a str>,
}

/// `GET /admin/login`: the form.
pub(crate) async fn form() -> Result<Response, ConsoleError> {
    html(&LoginPage { refusal: None })
}

/// The login form.
#[derive(Deserialize)]
pub(crate) struct Credentials {
    token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// `POST /admin/login`: a session for a listed token, or the form again with a 401.
///
/// A login posted from another site is refused (403 `csrf_refused`): no cookie guards the login
/// form, so without this a page elsewhere could log a browser into a session of its choosing.
/// Browsers say where a request comes from in `Sec-Fetch-Site`; a client that sends none (a
/// script, `curl`) is not a browser another site can drive.
pub(crate) async fn login(
    State(api): State<AdminApi>,
    headers: HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Result<Response, ConsoleError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site")
    {
        return Err(ConsoleError(AdminError::new(
            StatusCode::FORBIDDEN,
            "csrf_refused",
            "a login posted from another site is refused: log in from this console's own page",
        )));
    }
    let (caller, hash) = match api.tokens().authenticate_token(&credentials.token) {
        Ok(found) => found,
        Err(refusal) => {
            let error = refused(refusal);
            let mut response = html(&LoginPage {
                refusal: Some(&error.detail),
            })?;
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response.extensions_mut().insert(ProblemCode(error.code));
            return Ok(response);
        }
    };
    // The session the browser came with, if any, ends: one login, one live session.
    if let Some(old) = cookie_of(&headers) {
        api.sessions().close(&old);
    }
    let id = api
        .sessions()
        .open(caller.token_id.clone(), caller.role, hash, api.now())
        .map_err(|_| {
            ConsoleError(AdminError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_randomness",
                "no random bytes for a session id",
            ))
        })?;
    let mut response = Redirect::to("/admin/").into_response();
    set_cookie(&mut response, &api.sessions().cookie(&id))?;
    response.extensions_mut().insert(LoggedIn(caller.token_id));
    Ok(response)
}

/// `POST /admin/logout`: ends the session, back to the login form.
pub(crate) async fn logout(
    State(api): State<AdminApi>,
    request: axum::extract::Request,
) -> Result<Response, ConsoleError> {
    if let Some(id) = cookie_of(request.headers()) {
        api.sessions().close(&id);
    }
    let mut response = Redirect::to("/admin/login").into_response();
    set_cookie(&mut response, &api.sessions().removal())?;
    Ok(response)
}

fn set_cookie(response: &mut Response, cookie: &str) -> Result<(), ConsoleError> {
    let value = HeaderValue::from_str(cookie).map_err(|_| {
        ConsoleError(AdminError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "bad_cookie",
            "the session cookie could not be set",
        ))
    })?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(())
}
