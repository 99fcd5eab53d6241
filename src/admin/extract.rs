//! axum's extractors with their refusals answered as problems: a body that is not JSON, a query
//! or path that does not parse, each a 4xx `application/problem+json` like every admin error.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::AdminError;

/// A JSON body (`Content-Type: application/json`).
#[derive(Debug)]
pub(crate) struct Body<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_refused(&rejection)),
        }
    }
}

fn json_refused(rejection: &JsonRejection) -> AdminError {
    let (code, status) = match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        JsonRejection::JsonDataError(_) => ("invalid_request", StatusCode::UNPROCESSABLE_ENTITY),
        JsonRejection::JsonSyntaxError(_) => ("bad_request", StatusCode::BAD_REQUEST),
        // The body could not be read: too large, or the connection failed.
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ("body_too_large", StatusCode::PAYLOAD_TOO_LARGE)
        }
        _ => ("bad_request", StatusCode::BAD_REQUEST),
    };
    AdminError::new(status, code, rejection.body_text())
}

/// The query string.
#[derive(Debug)]
pub(crate) struct Query<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| AdminError::bad_request(rejection.body_text()))
    }
}

/// The path's parameters.
#[derive(Debug)]
pub(crate) struct Path<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| AdminError::bad_request(rejection.body_text()))
    }
}
