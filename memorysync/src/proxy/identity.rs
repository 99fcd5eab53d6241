//! Who is calling, told to the upstream in `X-MemorySync-*` fields that only the proxy writes,
//! and the client's credentials kept from it.

use http::Extensions;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use memorysync_pipeline::auth::Principal;
use memorysync_pipeline::scope::Scope;

/// The caller's key id.
pub(super) const KEY_ID: HeaderName = HeaderName::from_static("x-memorysync-key-id");
/// The caller's project.
pub(super) const PROJECT: HeaderName = HeaderName::from_static("x-memorysync-project");
/// The caller's environment: `development` or `production`.
pub(super) const ENVIRONMENT: HeaderName = HeaderName::from_static("x-memorysync-environment");

/// The MemorySync API key's two fields.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The identity could not be written as field values (an id holding a control character);
/// the request must not go upstream without it.
#[derive(Debug)]
pub(super) struct Unwritable;

/// Removes whatever identity and credentials the client sent, then writes the identity the
/// pipeline authenticated: the key id from the [`Principal`], the project and environment from
/// the [`Scope`] (from the `Principal` when no scope stage ran). Without a `Principal` (the
/// proxy used without the pipeline) no identity is written.
pub(super) fn replace(headers: &mut HeaderMap, extensions: &Extensions) -> Result<(), Unwritable> {
    for name in [KEY_ID, PROJECT, ENVIRONMENT] {
        headers.remove(name);
    }
    // The upstream trusts the identity fields; the key is a secret it has no use for.
    headers.remove(header::AUTHORIZATION);
    headers.remove(X_API_KEY);
    let Some(principal) = extensions.get::<Principal>() else {
        return Ok(());
    };
    let (project, environment) = match extensions.get::<Scope>() {
        Some(scope) => (scope.project(), scope.environment()),
        None => (principal.project(), principal.environment()),
    };
    // `from_bytes`, not `from_str`: an id in UTF-8 is a valid field value too.
    let value = |text: &str| HeaderValue::from_bytes(text.as_bytes()).map_err(|_| Unwritable);
    headers.insert(KEY_ID, value(principal.key_id())?);
    headers.insert(PROJECT, value(project)?);
    headers.insert(ENVIRONMENT, value(environment.as_str())?);
    Ok(())
}
