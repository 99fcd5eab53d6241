//! The admin API's errors: problem details (RFC 9457) with a `code`, like the pipeline's
//! rejections, and the mapping from each store error to its status.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use crate::key::KeyStoreError;
use crate::store::{RecordOwner, StoreError};

/// A problem details body, as every admin error answers it (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// `urn:memorysync:problem:<code>`.
    #[serde(rename = "type")]
    kind: String,
    /// The status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for a person; never a secret.
    detail: String,
    /// The stable, machine-readable code, e.g. `owned_by_config`.
    code: String,
}

/// An admin call that failed: its status, code and a sentence for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AdminError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) detail: String,
}

/// The code of a problem answered, in the response's extensions for the call's audit event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProblemCode(pub(crate) &'static str);

impl AdminError {
    pub(crate) fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400: the request could not be read (JSON, query, path).
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 422: read, but a value is not acceptable.
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", detail)
    }

    /// 404 with a code naming what is unknown.
    pub(crate) fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 409 with a code naming the conflict.
    pub(crate) fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 409 `owned_by_config` (or `owned_by_api`): the record has another manager.
    pub(crate) fn owned_by(what: &str, owner: RecordOwner) -> Self {
        match owner {
            RecordOwner::Config => Self::conflict(
                "owned_by_config",
                format!(
                    "{what} is managed by the config file: edit the file and reload it (SIGHUP)"
                ),
            ),
            RecordOwner::Api => Self::conflict(
                "owned_by_api",
                format!("{what} is managed by the admin API"),
            ),
        }
    }

    /// 503: a store did not answer; nothing was changed, or the change is unknown.
    pub(crate) fn unavailable(error: &StoreError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("the store did not answer: {error}"),
        )
    }
}

impl From<KeyStoreError> for AdminError {
    fn from(error: KeyStoreError) -> Self {
        match &error {
            KeyStoreError::DuplicateId(_) => Self::conflict("duplicate_id", error.to_string()),
            KeyStoreError::DuplicateHash { .. } => {
                Self::conflict("duplicate_key", error.to_string())
            }
            KeyStoreError::Tombstoned(_) => Self::conflict("tombstoned", error.to_string()),
            KeyStoreError::UnknownKey(_) => Self::not_found("unknown_key", error.to_string()),
            KeyStoreError::OwnedBy { id, owner } => Self::owned_by(&format!("key `{id}`"), *owner),
            KeyStoreError::Store(store) => Self::unavailable(store),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:memorysync:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"memorysync-admin\""),
            );
        }
        response.extensions_mut().insert(ProblemCode(self.code));
        response
    }
}

/// The problem answers every route may give, for the OpenAPI document: any 4xx or 5xx status,
/// with a [`Problem`] body as `application/problem+json`.
pub(crate) struct Problems;

impl utoipa::IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build();
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/problem+json", content.clone())
                    .build(),
            )
        };
        BTreeMap::from([
            ("4XX".to_owned(), problem("The request was refused")),
            ("5XX".to_owned(), problem("A store did not answer")),
        ])
    }
}
