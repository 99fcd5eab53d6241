//! The API-key layer: the key from `Authorization: Bearer` or `X-API-Key`, its SHA-256 looked
//! up in the [`KeyTable`], then `X-Project-ID` checked against the key's project. An admitted
//! request carries the key's [`KeyId`](crate::keys::KeyId) and its `Scope` in its extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::header::AUTHORIZATION;
use http::{HeaderMap, Request, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::keys::{Caller, KeyTable};

#[derive(Clone, Debug)]
pub(crate) struct KeyAuthLayer {
    keys: Arc<KeyTable>,
}

impl KeyAuthLayer {
    pub(crate) fn new(keys: Arc<KeyTable>) -> Self {
        KeyAuthLayer { keys }
    }
}

impl<S> Layer<S> for KeyAuthLayer {
    type Service = KeyAuth<S>;

    fn layer(&self, inner: S) -> KeyAuth<S> {
        KeyAuth {
            inner,
            keys: Arc::clone(&self.keys),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct KeyAuth<S> {
    inner: S,
    keys: Arc<KeyTable>,
}

impl<S, B> Service<Request<B>> for KeyAuth<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AuthFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match admit(&self.keys, request.headers()) {
            Ok(caller) => {
                let caller = caller.clone();
                request.extensions_mut().insert(caller.key);
                request.extensions_mut().insert(caller.scope);
                AuthFuture::Admitted {
                    future: self.inner.call(request),
                }
            }
            Err((status, message)) => AuthFuture::Refused {
                response: Some((status, message).into_response()),
            },
        }
    }
}

/// The caller, or the status and message to refuse the request with.
fn admit<'k>(
    keys: &'k KeyTable,
    headers: &HeaderMap,
) -> Result<&'k Caller, (StatusCode, &'static str)> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    let key = bearer
        .or_else(|| headers.get("x-api-key").map(|v| v.as_bytes()))
        .ok_or((StatusCode::UNAUTHORIZED, "API key missing"))?;
    let caller = keys
        .find(key)
        .ok_or((StatusCode::UNAUTHORIZED, "API key invalid"))?;
    let project = headers
        .get("x-project-id")
        .ok_or((StatusCode::BAD_REQUEST, "X-Project-ID missing"))?;
    if project.as_bytes() != caller.scope.project().as_bytes() {
        return Err((StatusCode::FORBIDDEN, "X-Project-ID names another project"));
    }
    Ok(caller)
}

pin_project! {
    #[project = AuthFutureProj]
    pub(crate) enum AuthFuture<F> {
        Admitted { #[pin] future: F },
        Refused { response: Option<Response> },
    }
}

impl<F, E> Future for AuthFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AuthFutureProj::Admitted { future } => future.poll(cx),
            AuthFutureProj::Refused { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}
