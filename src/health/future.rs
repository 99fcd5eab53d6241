use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use pin_project_lite::pin_project;
use tracing::Span;

use crate::body::ResponseBody;

type Report = Pin<Box<dyn Future<Output = Bytes> + Send>>;

pin_project! {
    /// The response future of [`HealthRoute`](super::HealthRoute).
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
        span: Span,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Answered { response: Option<Response<ResponseBody<B>>> },
        // Boxed: checks are user trait objects, and probes are not the hot path.
        Checking { report: Report, head_only: bool },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(super) fn inner(future: F, span: Span) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future },
            span,
        }
    }

    pub(super) fn answered(response: Response<ResponseBody<B>>, span: Span) -> Self {
        ResponseFuture {
            kind: Kind::Answered {
                response: Some(response),
            },
            span,
        }
    }

    pub(super) fn checking(report: Report, head_only: bool, span: Span) -> Self {
        ResponseFuture {
            kind: Kind::Checking { report, head_only },
            span,
        }
    }
}

/// The report as a response. Both states answer 200: `degraded` means "serving, in a reduced
/// way" (for example on per-instance limits while Redis is away), which a load balancer should
/// not read as "take me out".
pub(super) fn report_response<B>(body: Bytes, head_only: bool) -> Response<ResponseBody<B>> {
    let mut response = Response::new(if head_only {
        ResponseBody::empty()
    } else {
        ResponseBody::full(body)
    });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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
                .expect("health ResponseFuture polled after completion"))),
            KindProj::Checking { report, head_only } => {
                let body = ready!(report.as_mut().poll(cx));
                Poll::Ready(Ok(report_response(body, *head_only)))
            }
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
