use std::fmt;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use tracing::field::Empty;

use super::future::Pending;
use super::layer::Shared;
use super::{Classify, Month, QuotaKey, QuotaStore, ResponseFuture};
use crate::auth::Principal;
use crate::body::ResponseBody;
use crate::rejection::{Rejection, RejectionCode, is_grpc};
use crate::scope::Scope;
use crate::telemetry;

/// Spends a unit of the project's monthly quota for each metered request before calling the
/// inner service; when the month's units are used up, answers 200 with an empty result instead.
pub struct QuotaDegrade<Inner, S, C> {
    pub(super) inner: Inner,
    pub(super) shared: Arc<Shared<S, C>>,
}

impl<Inner, S, C> QuotaDegrade<Inner, S, C> {
    /// The inner service.
    pub fn get_ref(&self) -> &Inner {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> Inner {
        self.inner
    }
}

impl<Inner: Clone, S, C> Clone for QuotaDegrade<Inner, S, C> {
    fn clone(&self) -> Self {
        QuotaDegrade {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<Inner: fmt::Debug, S, C> fmt::Debug for QuotaDegrade<Inner, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuotaDegrade")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<Inner, S, C, ReqBody, ResBody> Service<Request<ReqBody>> for QuotaDegrade<Inner, S, C>
where
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S: QuotaStore,
    C: Classify,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = Inner::Error;
    type Future = ResponseFuture<Inner, S, C, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let span = telemetry::stage_span(|| {
            tracing::debug_span!(
                "memorysync.quota",
                key_id = Empty,
                project = Empty,
                operation = Empty
            )
        });
        let _entered = span.enter();
        telemetry::record_principal(&span, request.extensions().get::<Principal>());
        let shared = &self.shared;
        let Some(operation) = shared
            .classifier
            .classify(request.method(), request.uri().path())
        else {
            return ResponseFuture::unmetered(self.inner.call(request), span.clone());
        };
        if !span.is_disabled() {
            span.record("operation", operation.as_str());
        }
        let grpc = is_grpc(request.headers());
        let Some(scope) = request.extensions().get::<Scope>() else {
            // Used without ProjectScope outside it: there is no project to charge, and serving
            // unmetered would make the quota a no-op nobody notices.
            let rejection = Rejection::new(
                RejectionCode::MissingApiKey,
                "quotas need an authenticated request scoped to a project",
            );
            return ResponseFuture::rejected(rejection, grpc, span.clone());
        };
        let Some(plan) = shared.plans.get(scope.project()) else {
            tracing::warn!(
                project = scope.project(),
                "no quota plan for the project; unmetered"
            );
            return ResponseFuture::unmetered(self.inner.call(request), span.clone());
        };
        let key = QuotaKey {
            project: scope.project_shared().clone(),
            operation,
            month: Month::of(shared.clock.now()),
        };
        let limit = plan.limit(operation);
        let reserve = shared.store.reserve(&key, limit, plan.alert_thresholds);
        // Call the service that `poll_ready` readied; leave its clone for the next request.
        let clone = self.inner.clone();
        let ready_inner = mem::replace(&mut self.inner, clone);
        ResponseFuture::reserving(
            reserve,
            Pending {
                inner: ready_inner,
                request,
                grpc,
                key,
                limit,
                shared: Arc::clone(shared),
            },
            span.clone(),
        )
    }
}
