use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;

use super::decide::scope_of;
use crate::auth::Principal;
use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::rejection::is_grpc;
use crate::telemetry::{self, Stage};

/// Applies [`ProjectScope`]. It holds no state.
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct ProjectScopeLayer;

impl ProjectScopeLayer {
    /// The layer.
    pub fn new() -> Self {
        ProjectScopeLayer
    }
}

impl<S> Layer<S> for ProjectScopeLayer {
    type Service = ProjectScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProjectScope::new(inner)
    }
}

/// Checks `X-Project-ID` against the key's project and puts the request's
/// [`Scope`](super::Scope) into its extensions.
#[derive(Clone, Copy, Debug)]
pub struct ProjectScope<S> {
    inner: S,
}

impl<S> ProjectScope<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        ProjectScope { inner }
    }

    /// The layer.
    pub fn layer() -> ProjectScopeLayer {
        ProjectScopeLayer
    }

    crate::macros::define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ProjectScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let span = telemetry::stage_span(|| {
            tracing::debug_span!("memorysync.scope", key_id = Empty, project = Empty)
        });
        let _entered = span.enter();
        let principal = request.extensions().get::<Principal>();
        if let Some(principal) = principal {
            principal.record_on(&span);
        }
        match scope_of(request.headers(), principal) {
            Ok(scope) => {
                telemetry::admitted(Stage::Scope);
                request.extensions_mut().insert(scope);
                ResponseFuture::inner(self.inner.call(request), span.clone())
            }
            Err(rejection) => {
                tracing::debug!(code = %rejection.code(), "project scope refused");
                telemetry::rejected(Stage::Scope, rejection.code());
                let grpc = is_grpc(request.headers());
                ResponseFuture::answered(rejection.into_response(grpc), span.clone())
            }
        }
    }
}
