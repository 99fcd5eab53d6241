//! Rendering: a template into an HTML answer, an admin error into an HTML error page, and the
//! admin API's handlers' JSON read back into the pages' views.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use serde::de::DeserializeOwned;

use super::guard::ConsoleUser;
use super::session::CsrfToken;
use crate::admin::call::Target;
use crate::admin::problem::{AdminError, ProblemCode};

/// The largest JSON answer of an admin handler the console reads back.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// What every page's frame shows: who is logged in, and the form token for its forms.
#[derive(Debug)]
pub(crate) struct Frame {
    /// The admin token's id.
    pub(crate) token_id: String,
    /// Whether the page offers controls that change anything.
    pub(crate) can_write: bool,
    /// The session's CSRF token.
    pub(crate) csrf: CsrfToken,
}

impl Frame {
    pub(crate) fn of(user: &ConsoleUser) -> Self {
        Frame {
            token_id: user.token_id.to_string(),
            can_write: user.can_write(),
            csrf: user.csrf.clone(),
        }
    }
}

/// An admin error, answered as an HTML page with its status and code.
#[derive(Debug)]
pub(crate) struct ConsoleError(pub(crate) AdminError);

impl From<AdminError> for ConsoleError {
    fn from(error: AdminError) -> Self {
        ConsoleError(error)
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    code: &'a str,
    detail: &'a str,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.0.status.as_u16(),
            code: self.0.code,
            detail: &self.0.detail,
        };
        let mut response = match page.render() {
            Ok(html) => (self.0.status, Html(html)).into_response(),
            Err(_) => self.0.status.into_response(),
        };
        response.extensions_mut().insert(ProblemCode(self.0.code));
        response
    }
}

/// `page` as a 200 HTML answer.
pub(crate) fn html(page: &impl Template) -> Result<Response, ConsoleError> {
    page.render()
        .map(|html| Html(html).into_response())
        .map_err(|_| {
            ConsoleError(AdminError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "render_failed",
                "the page could not be rendered",
            ))
        })
}

/// An admin handler's answer read back as `T`, with the target it named for the audit event.
pub(crate) async fn answer<T: DeserializeOwned>(
    answer: Result<impl IntoResponse, AdminError>,
) -> Result<(T, Target), ConsoleError> {
    let response = answer?.into_response();
    let target = response
        .extensions()
        .get::<Target>()
        .cloned()
        .unwrap_or_default();
    let unreadable = || {
        ConsoleError(AdminError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unreadable_answer",
            "the admin API's answer could not be read",
        ))
    };
    let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
        .await
        .map_err(|_| unreadable())?;
    let value = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
    Ok((value, target))
}

/// A form's value as the admin API's JSON input: `T` from `value`, or 422.
pub(crate) fn input<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ConsoleError> {
    serde_json::from_value(value).map_err(|e| ConsoleError(AdminError::invalid(e.to_string())))
}

/// A form's optional number: empty is none.
pub(crate) fn number(name: &str, text: &str) -> Result<Option<u64>, ConsoleError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        ConsoleError(AdminError::invalid(format!(
            "{name} is a whole number, not `{text}`"
        )))
    })
}

/// A posted form; one that does not parse is a 400 page, with its code in the audit event.
#[derive(Debug)]
pub(crate) struct Form<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for Form<T> {
    type Rejection = ConsoleError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(request, state)
            .await
            .map(|axum::Form(value)| Form(value))
            .map_err(|rejection| ConsoleError(AdminError::bad_request(rejection.body_text())))
    }
}

/// A page's query string (its filters); one that does not parse is a 400 page.
#[derive(Debug)]
pub(crate) struct Filters<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Filters<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Filters(value))
            .map_err(|rejection| ConsoleError(AdminError::bad_request(rejection.body_text())))
    }
}

/// The non-empty fields of a filter form, trimmed.
fn set_fields<'a>(
    fields: &'a [(&'a str, &'a Option<String>)],
) -> impl Iterator<Item = (&'a str, &'a str)> {
    fields
        .iter()
        .filter_map(|(name, value)| Some((*name, value.as_deref()?.trim())))
        .filter(|(_, value)| !value.is_empty())
}

/// A filtered page's query to the admin API: the filters that are set, the cursor of the page
/// (if any) and the page size; 422 when the API's query type refuses them.
pub(crate) fn page_query<T: DeserializeOwned>(
    fields: &[(&str, &Option<String>)],
    cursor: Option<&str>,
    limit: u32,
) -> Result<T, ConsoleError> {
    let mut query: serde_json::Map<String, serde_json::Value> = set_fields(fields)
        .map(|(name, value)| (name.to_owned(), value.into()))
        .collect();
    if let Some(cursor) = cursor.filter(|c| !c.is_empty()) {
        query.insert("cursor".into(), cursor.into());
    }
    query.insert("limit".into(), limit.into());
    input(serde_json::Value::Object(query))
}

/// The value of the filter `name` among `fields`, "" when it is empty or absent.
pub(crate) fn field<'a>(fields: &[(&str, &'a Option<String>)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(field, _)| *field == name)
        .and_then(|(_, value)| value.as_deref())
        .unwrap_or("")
}

/// The address of the page after this one: `path` with the same filters and `cursor`.
pub(crate) fn next_page(path: &str, fields: &[(&str, &Option<String>)], cursor: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = set_fields(fields).collect();
    pairs.push(("cursor", cursor));
    // Pairs of strings always encode.
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("{path}?{query}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::key::AdminRole;

    #[test]
    fn debug_output_leaves_the_form_token_out() {
        let user = ConsoleUser {
            token_id: Arc::from("tok_ops"),
            role: AdminRole::Admin,
            csrf: CsrfToken(Arc::from("csrf-secret-value")),
        };
        let frame = Frame::of(&user);
        for text in [format!("{user:?}"), format!("{frame:?}")] {
            assert!(text.contains("tok_ops"), "{text}");
            assert!(!text.contains("csrf-secret-value"), "{text}");
        }
    }
}
