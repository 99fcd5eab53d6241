use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use super::Principal;
use crate::body::ResponseBody;
use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::key::{KeyEntry, KeyStore};
use crate::rejection::{Rejection, RejectionCode};
use crate::store::StoreError;
use crate::telemetry::{self, Stage};

pin_project! {
    /// The response future of [`ApiKeyAuth`](super::ApiKeyAuth): a store look-up, then the inner
    /// service's future, or a rejection. Held inline, never boxed.
    pub struct ResponseFuture<K, S, ReqBody, ResBody>
    where
        K: KeyStore,
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<K, S, ReqBody, ResBody>,
        span: Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<K, S, ReqBody, ResBody>
    where
        K: KeyStore,
        S: Service<Request<ReqBody>>,
    {
        LookingUp { #[pin] lookup: K::Lookup, pending: Option<Pending<K, S, ReqBody>> },
        Calling { #[pin] future: S::Future, principal: Option<Principal> },
        Rejected { response: Option<Response<ResponseBody<ResBody>>> },
    }
}

/// What the future needs once the look-up answers.
pub(super) struct Pending<K, S, ReqBody> {
    pub(super) inner: S,
    pub(super) request: Request<ReqBody>,
    pub(super) key_environment: Environment,
    pub(super) now: Timestamp,
    pub(super) store: Arc<K>,
    pub(super) grpc: bool,
}

impl<K, S, ReqBody, ResBody> ResponseFuture<K, S, ReqBody, ResBody>
where
    K: KeyStore,
    S: Service<Request<ReqBody>>,
{
    pub(super) fn looking_up(
        lookup: K::Lookup,
        pending: Pending<K, S, ReqBody>,
        span: Span,
    ) -> Self {
        ResponseFuture {
            state: State::LookingUp {
                lookup,
                pending: Some(pending),
            },
            span,
        }
    }

    pub(super) fn rejected(rejection: Rejection, grpc: bool, span: Span) -> Self {
        tracing::debug!(code = %rejection.code(), "api key refused");
        telemetry::rejected(Stage::Auth, rejection.code());
        ResponseFuture {
            state: State::Rejected {
                response: Some(rejection.into_response(grpc)),
            },
            span,
        }
    }
}

impl<K, S, ReqBody, ResBody> Future for ResponseFuture<K, S, ReqBody, ResBody>
where
    K: KeyStore,
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                StateProj::LookingUp { lookup, pending } => {
                    let found = ready!(lookup.poll(cx));
                    let Pending {
                        mut inner,
                        mut request,
                        key_environment,
                        now,
                        store,
                        grpc,
                    } = pending
                        .take()
                        .expect("auth ResponseFuture polled after completion");
                    match admit(found, key_environment, now) {
                        Ok(entry) => {
                            store.record_use(&entry, now);
                            let principal = Principal::new(entry);
                            telemetry::admitted(Stage::Auth);
                            telemetry::record_principal(this.span, Some(&principal));
                            request.extensions_mut().insert(principal.clone());
                            let future = inner.call(request);
                            state.set(State::Calling {
                                future,
                                principal: Some(principal),
                            });
                        }
                        Err(rejection) => {
                            tracing::debug!(code = %rejection.code(), "api key refused");
                            telemetry::rejected(Stage::Auth, rejection.code());
                            let response = rejection.into_response(grpc);
                            state.set(State::Rejected {
                                response: Some(response),
                            });
                        }
                    }
                }
                StateProj::Calling { future, principal } => {
                    let mut response = ready!(future.poll(cx))?;
                    // The audit stage, outside this one, reads who called from the response.
                    if let Some(principal) = principal.take() {
                        response.extensions_mut().insert(principal);
                    }
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("auth ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

/// The decision on a looked-up record, in the order a client can act on: unknown, then revoked,
/// then expired.
fn admit(
    found: Result<Option<Arc<KeyEntry>>, StoreError>,
    key_environment: Environment,
    now: Timestamp,
) -> Result<Arc<KeyEntry>, Rejection> {
    let entry = match found {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            return Err(Rejection::new(
                RejectionCode::InvalidApiKey,
                "no API key matches the one presented",
            ));
        }
        Err(error) => {
            tracing::warn!(%error, "key store unavailable; refusing the request");
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

impl<K, S, ReqBody, ResBody> fmt::Debug for ResponseFuture<K, S, ReqBody, ResBody>
where
    K: KeyStore,
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
