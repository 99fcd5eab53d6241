use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use tracing::field::Empty;

use super::future::Lookup;
use super::{ApiKeyAuthLayer, ResponseFuture, credentials};
use crate::admission::{self, Admission};
use crate::body::ResponseBody;
use crate::environment::Environment;
use crate::key::KeyStore;
use crate::rejection::{Rejection, RejectionCode, is_grpc};
use crate::telemetry;

/// Authenticates every request by its API key and puts a [`Principal`](super::Principal) into its
/// extensions; refuses the rest with 401 before they reach the inner service.
pub struct ApiKeyAuth<S, K> {
    pub(super) inner: S,
    /// Behind one `Arc`: routers clone the service for every request, and one reference count
    /// is cheaper to move between cores than one per shared field.
    pub(super) layer: Arc<ApiKeyAuthLayer<K>>,
}

impl<S, K: KeyStore> ApiKeyAuth<S, K> {
    /// Wraps `inner`.
    pub fn new(inner: S, layer: ApiKeyAuthLayer<K>) -> Self {
        ApiKeyAuth {
            inner,
            layer: Arc::new(layer),
        }
    }

    /// A layer that authenticates against `store` in the `deployment` environment.
    pub fn layer(store: K, deployment: Environment) -> ApiKeyAuthLayer<K> {
        ApiKeyAuthLayer::new(store, deployment)
    }

    crate::macros::define_inner_service_accessors!();
}

impl<S: Clone, K> Clone for ApiKeyAuth<S, K> {
    fn clone(&self) -> Self {
        ApiKeyAuth {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<S: fmt::Debug, K> fmt::Debug for ApiKeyAuth<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyAuth")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for ApiKeyAuth<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    K: KeyStore,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, K, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // Empty until the key is found: the presented key itself is never a field.
        let span = telemetry::stage_span(|| {
            tracing::debug_span!("memorysync.auth", key_id = Empty, project = Empty)
        });
        let _entered = span.enter();
        let grpc = is_grpc(request.headers());
        let key = match credentials::presented_key(request.headers()) {
            Ok(key) => key,
            Err(rejection) => {
                return ResponseFuture::new(Admission::rejected(rejection, grpc, span.clone()));
            }
        };
        if self.layer.deployment == Environment::Production
            && key.environment() == Environment::Development
        {
            let rejection = Rejection::new(
                RejectionCode::InvalidApiKey,
                "a production deployment does not accept development (test) keys",
            );
            return ResponseFuture::new(Admission::rejected(rejection, grpc, span.clone()));
        }
        let answer = self.layer.store.find_by_hash(&key.hash());
        let lookup = Lookup {
            key_environment: key.environment(),
            now: self.layer.clock.now(),
            store: self.layer.store.clone(),
        };
        let inner = admission::take_ready(&mut self.inner);
        ResponseFuture::new(Admission::deciding(
            lookup,
            answer,
            inner,
            request,
            grpc,
            span.clone(),
        ))
    }
}
