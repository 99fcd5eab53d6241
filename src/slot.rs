//! The typed slots of stages that later work fills in.
//!
//! A slot is a real tower layer with its place in the pipeline order, so that pipelines written
//! today keep compiling, in the same order, when the stage behind it starts enforcing. Until then
//! it passes every request through untouched, and its docs say so.

/// Declares a pass-through slot layer and its service.
macro_rules! slot_stage {
    ($(#[$layer_doc:meta])* $layer:ident, $(#[$service_doc:meta])* $service:ident) => {
        $(#[$layer_doc])*
        #[derive(Clone, Copy, Debug, Default)]
        #[must_use]
        pub struct $layer {
            _private: (),
        }

        impl $layer {
            /// The slot layer.
            pub fn new() -> Self {
                $layer { _private: () }
            }
        }

        impl<S> ::tower_layer::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service::new(inner)
            }
        }

        $(#[$service_doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $service<S> {
            inner: S,
        }

        impl<S> $service<S> {
            /// Wraps `inner`.
            pub fn new(inner: S) -> Self {
                $service { inner }
            }

            /// The slot layer.
            pub fn layer() -> $layer {
                $layer::new()
            }

            /// The inner service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// The inner service, mutably.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// Unwraps the inner service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }

        impl<S, Request> ::tower_service::Service<Request> for $service<S>
        where
            S: ::tower_service::Service<Request>,
        {
            type Response = S::Response;
            type Error = S::Error;
            type Future = S::Future;

            fn poll_ready(
                &mut self,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, request: Request) -> Self::Future {
                self.inner.call(request)
            }
        }
    };
}

pub(crate) use slot_stage;
