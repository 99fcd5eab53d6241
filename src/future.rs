//! The response future shared by the stages that decide without waiting.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use tracing::Span;

use crate::body::ResponseBody;

pin_project! {
    /// The future of a stage that either passes the request inward or answers it at once.
    ///
    /// A named enum instead of a boxed `async` block: passing a request through a stage costs no
    /// allocation. The stage's span is entered while the inner future is polled.
    #[derive(Debug)]
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
        span: Span,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Answered { response: Option<Response<ResponseBody<B>>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F, span: Span) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future },
            span,
        }
    }

    pub(crate) fn answered(response: Response<ResponseBody<B>>, span: Span) -> Self {
        ResponseFuture {
            kind: Kind::Answered {
                response: Some(response),
            },
            span,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        match this.kind.project() {
            KindProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            KindProj::Answered { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
        }
    }
}
