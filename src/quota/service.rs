use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use tracing::field::Empty;

use super::future::Charge;
use super::layer::Shared;
use super::reserving::Reserving;
use super::{
    Classify, DefaultClassifier, MemoryQuotaStore, Month, QuotaDegradeLayer, QuotaKey, QuotaPlans,
    QuotaStore, ResponseFuture,
};
use crate::admission::{self, Admission};
use crate::auth::Principal;
use crate::body::ResponseBody;
use crate::rejection::{Rejection, RejectionCode, is_grpc};
use crate::scope::Scope;
use crate::telemetry;

/// Spends a unit of the project's monthly quota for each metered request before calling the
/// inner service; when the month's units are used up, answers 200 with an empty result instead.
///
/// `S` is the inner service, `Q` the store of the counters, `C` the classifier.
pub struct QuotaDegrade<S, Q = MemoryQuotaStore, C = DefaultClassifier> {
    pub(super) inner: S,
    pub(super) shared: Arc<Shared<Q, C>>,
}

impl<S, Q, C> QuotaDegrade<S, Q, C> {
    /// Wraps `inner`.
    pub fn new(inner: S, layer: QuotaDegradeLayer<Q, C>) -> Self {
        QuotaDegrade {
            inner,
            shared: Arc::new(layer.shared),
        }
    }

    crate::macros::define_inner_service_accessors!();
}

impl<S> QuotaDegrade<S> {
    /// A layer with the quotas of `plans`, counted in memory.
    pub fn layer(plans: QuotaPlans) -> QuotaDegradeLayer {
        QuotaDegradeLayer::new(plans)
    }
}

impl<S: Clone, Q, C> Clone for QuotaDegrade<S, Q, C> {
    fn clone(&self) -> Self {
        QuotaDegrade {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, Q, C> fmt::Debug for QuotaDegrade<S, Q, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuotaDegrade")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, Q, C, ReqBody, ResBody> Service<Request<ReqBody>> for QuotaDegrade<S, Q, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    Q: QuotaStore,
    C: Classify,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Q, C, ReqBody, ResBody>;

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
        if let Some(principal) = request.extensions().get::<Principal>() {
            principal.record_on(&span);
        }
        let shared = &self.shared;
        let Some(operation) = shared
            .classifier
            .classify(request.method(), request.uri().path())
        else {
            return self.unmetered(request, span.clone());
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
            return ResponseFuture::new(Admission::rejected(rejection, grpc, span.clone()));
        };
        // The guard is dropped at once: nothing holds the plans across an await.
        let planned = shared
            .plans
            .load()
            .get(scope.project())
            .map(|plan| (plan.limit(operation), plan.alert_thresholds));
        let Some((limit, thresholds)) = planned else {
            shared.unplanned.seen(scope.project_shared());
            return self.unmetered(request, span.clone());
        };
        let key = QuotaKey {
            project: scope.project_shared().clone(),
            operation,
            month: Month::of(shared.clock.now()),
        };
        let answer = Reserving::new(
            &shared.store,
            key.clone(),
            shared.store.reserve(&key, limit, thresholds),
        );
        let charge = Charge {
            key,
            limit,
            shared: Arc::clone(shared),
        };
        let inner = admission::take_ready(&mut self.inner);
        ResponseFuture::new(Admission::deciding(
            charge,
            answer,
            inner,
            request,
            grpc,
            span.clone(),
        ))
    }
}

impl<S, Q, C> QuotaDegrade<S, Q, C>
where
    Q: QuotaStore,
{
    fn unmetered<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
        span: tracing::Span,
    ) -> ResponseFuture<S, Q, C, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        telemetry::unmetered();
        ResponseFuture::new(Admission::passing(self.inner.call(request), span))
    }
}
