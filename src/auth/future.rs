use std::sync::Arc;

use http::{Request, Response};
use tracing::Span;

use super::Principal;
use crate::admission::{Admit, Verdict};
use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::key::{KeyEntry, KeyStore};
use crate::rejection::{Rejection, RejectionCode};
use crate::store::StoreError;
use crate::store::refusals::Refusals;
use crate::telemetry::{self, Stage};

crate::admission::stage_response_future! {
    /// The response future of [`ApiKeyAuth`](super::ApiKeyAuth): a store look-up, then the inner
    /// service's future, or a rejection. Held inline, never boxed.
    ResponseFuture<S, K> where K: KeyStore => Lookup<K>
}

/// The look-up of a presented key: what the decision needs besides the store's answer.
pub(super) struct Lookup<K> {
    pub(super) key_environment: Environment,
    pub(super) now: Timestamp,
    pub(super) store: Arc<K>,
}

impl<K: KeyStore> Admit for Lookup<K> {
    type Answer = K::Lookup;
    type Admitted = Principal;
    const STAGE: Stage = Stage::Auth;

    fn decide<ReqBody, ResBody>(
        self,
        found: Result<Option<Arc<KeyEntry>>, StoreError>,
        request: &mut Request<ReqBody>,
        _grpc: bool,
        span: &Span,
    ) -> Verdict<Principal, ResBody> {
        match admit(found, self.key_environment, self.now) {
            Ok(entry) => {
                self.store.record_use(&entry, self.now);
                let principal = Principal::new(entry);
                telemetry::admitted(Stage::Auth);
                principal.record_on(span);
                request.extensions_mut().insert(principal.clone());
                Verdict::Admit(principal)
            }
            Err(rejection) => Verdict::Reject(rejection),
        }
    }

    fn after<B, E>(principal: Principal, outcome: &mut Result<Response<B>, E>) {
        // The audit stage, outside this one, reads who called from the response.
        if let Ok(response) = outcome {
            response.extensions_mut().insert(principal);
        }
    }
}

/// Whether the auth stage is refusing for want of its key store, for the log.
static REFUSALS: Refusals = Refusals::new("key");

/// The decision on a looked-up record, in the order a client can act on: unknown, then revoked,
/// then expired.
fn admit(
    found: Result<Option<Arc<KeyEntry>>, StoreError>,
    key_environment: Environment,
    now: Timestamp,
) -> Result<Arc<KeyEntry>, Rejection> {
    if found.is_ok() {
        REFUSALS.answered();
    }
    let entry = match found {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            return Err(Rejection::new(
                RejectionCode::InvalidApiKey,
                "no API key matches the one presented",
            ));
        }
        Err(error) => {
            REFUSALS.refused(&error);
            return Err(Rejection::new(
                RejectionCode::StoreUnavailable,
                "the key store is unavailable; retry shortly",
            )
            .with_retry_after(1));
        }
    };
    let record = entry.record();
    // The tag is part of the hashed text, so a disagreeing tag means a record that was filed
    // under the wrong environment: refuse it rather than guess which side is right.
    if record.environment != key_environment {
        return Err(Rejection::new(
            RejectionCode::InvalidApiKey,
            "the API key's tag does not match its environment",
        ));
    }
    if record.is_revoked(now) {
        return Err(Rejection::new(
            RejectionCode::RevokedApiKey,
            "the API key was revoked",
        ));
    }
    if record.is_expired(now) {
        return Err(Rejection::new(
            RejectionCode::ExpiredApiKey,
            "the API key has expired",
        ));
    }
    Ok(entry)
}
