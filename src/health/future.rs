use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use pin_project_lite::pin_project;
use tracing::Span;

use crate::body::ResponseBody;
use crate::future::ResponseFuture as Immediate;

type Report = Pin<Box<dyn Future<Output = Bytes> + Send>>;

pin_project! {
    /// The response future of [`HealthRoute`](super::HealthRoute): a request passed inward or
    /// refused at once, or a health report being gathered.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Immediate { #[pin] future: Immediate<F, B> },
        // Boxed: checks are user trait objects, and probes are not the hot path.
        Checking { report: Report, head_only: bool, span: Span },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(super) fn inner(future: F, span: Span) -> Self {
        Self::immediate(Immediate::inner(future, span))
    }

    pub(super) fn answered(response: Response<ResponseBody<B>>, span: Span) -> Self {
        Self::immediate(Immediate::answered(response, span))
    }

    pub(super) fn checking(report: Report, head_only: bool, span: Span) -> Self {
        ResponseFuture {
            kind: Kind::Checking {
                report,
                head_only,
                span,
            },
        }
    }

    fn immediate(future: Immediate<F, B>) -> Self {
        ResponseFuture {
            kind: Kind::Immediate { future },
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
        match self.project().kind.project() {
            KindProj::Immediate { future } => future.poll(cx),
            KindProj::Checking {
                report,
                head_only,
                span,
            } => {
                let _entered = span.enter();
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
