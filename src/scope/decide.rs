use http::HeaderMap;
use http::header::HeaderName;

use super::Scope;
use crate::auth::Principal;
use crate::rejection::{Rejection, RejectionCode};

/// The header that names the project a request is for.
pub const X_PROJECT_ID: HeaderName = HeaderName::from_static("x-project-id");

const MISSING: RejectionCode = RejectionCode::MissingProjectId;

/// The scope of a request, or why it has none.
pub(super) fn scope_of(
    headers: &HeaderMap,
    principal: Option<&Principal>,
) -> Result<Scope, Rejection> {
    let Some(principal) = principal else {
        // Used without ApiKeyAuth outside it: there is no key to take the project from, and
        // believing the header alone would let anyone name any project.
        return Err(Rejection::new(
            RejectionCode::MissingApiKey,
            "the project scope needs an authenticated API key",
        ));
    };
    let mut values = headers.get_all(X_PROJECT_ID).iter();
    let Some(value) = values.next() else {
        return Err(Rejection::new(
            MISSING,
            "send the project id in X-Project-ID",
        ));
    };
    if values.next().is_some() {
        return Err(Rejection::new(MISSING, "send X-Project-ID once"));
    }
    let Ok(project) = value.to_str() else {
        return Err(Rejection::new(
            MISSING,
            "X-Project-ID must be visible ASCII",
        ));
    };
    let project = project.trim();
    if project.is_empty() {
        return Err(Rejection::new(MISSING, "X-Project-ID is empty"));
    }
    if project != principal.project() {
        return Err(Rejection::new(
            RejectionCode::ProjectMismatch,
            "X-Project-ID names another project than the API key's",
        ));
    }
    Ok(Scope::from_principal(principal))
}

impl Scope {
    fn from_principal(principal: &Principal) -> Self {
        Scope::new(principal.project_shared().clone(), principal.environment())
    }
}
