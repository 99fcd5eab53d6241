use std::fmt;
use std::marker::PhantomData;

use tower_layer::{Identity, Layer, Stack};

use super::order::{Follows, Stage, position};

/// Builds one tower [`Layer`] from the stages, in the contract's order, with any of the user's
/// own layers between them.
///
/// `Last` is the position of the last stage placed; [`PipelineBuilder::stage`] accepts only a
/// stage that may follow it, so a wrong order does not compile.
#[must_use]
pub struct PipelineBuilder<L, Last> {
    layers: L,
    _last: PhantomData<fn() -> Last>,
}

impl PipelineBuilder<Identity, position::PipelineStart> {
    /// An empty pipeline.
    pub fn new() -> Self {
        PipelineBuilder {
            layers: Identity::new(),
            _last: PhantomData,
        }
    }
}

impl Default for PipelineBuilder<Identity, position::PipelineStart> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L, Last> PipelineBuilder<L, Last> {
    /// Places a stage inside everything placed so far. It must come later in the contract's
    /// order than the last stage placed.
    pub fn stage<T>(self, stage: T) -> PipelineBuilder<Stack<T, L>, T::Position>
    where
        T: Stage,
        T::Position: Follows<Last>,
    {
        PipelineBuilder {
            layers: Stack::new(stage, self.layers),
            _last: PhantomData,
        }
    }

    /// Places one of the user's own layers (tracing, timeouts, CORS, compression) inside
    /// everything placed so far. The order of the stages around it is still checked.
    ///
    /// Stages go through [`PipelineBuilder::stage`]: a stage given here is not order-checked.
    pub fn layer<T>(self, layer: T) -> PipelineBuilder<Stack<T, L>, Last> {
        PipelineBuilder {
            layers: Stack::new(layer, self.layers),
            _last: PhantomData,
        }
    }

    /// The finished pipeline: one layer. Wrap the whole application with
    /// [`PipelineLayer::around`]; with axum, not through `Router::layer` (see the
    /// [module docs](super#axum-wrap-the-finished-router-not-routerlayer)).
    pub fn into_layer(self) -> PipelineLayer<L> {
        PipelineLayer {
            layers: self.layers,
        }
    }
}

impl<L: Clone, Last> Clone for PipelineBuilder<L, Last> {
    fn clone(&self) -> Self {
        PipelineBuilder {
            layers: self.layers.clone(),
            _last: PhantomData,
        }
    }
}

impl<L: fmt::Debug, Last> fmt::Debug for PipelineBuilder<L, Last> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("layers", &self.layers)
            .finish()
    }
}

/// The pipeline built by [`PipelineBuilder`]: one tower layer wrapping the stages, outermost
/// first.
#[derive(Clone, Debug)]
pub struct PipelineLayer<L> {
    layers: L,
}

impl<L> PipelineLayer<L> {
    /// The whole of `app` behind the pipeline: every request reaches the stages first, whatever
    /// `app` routes or does not route (`GET /health`, an unknown path, a fallback).
    ///
    /// `app` is finished: an axum `Router` after its last `merge`, `nest` and `fallback`, a
    /// hyper `service_fn`, any tower service. The result is a service, not a router, so nothing
    /// can be merged into it and slip past the stages; routes meant to stay outside the pipeline
    /// (a `/metrics` for a scraper) go in an outer router whose fallback is this service.
    pub fn around<S>(&self, app: S) -> L::Service
    where
        L: Layer<S>,
    {
        self.layers.layer(app)
    }
}

impl<S, L: Layer<S>> Layer<S> for PipelineLayer<L> {
    type Service = L::Service;

    fn layer(&self, inner: S) -> Self::Service {
        self.layers.layer(inner)
    }
}
