//! Bodies in both directions, streamed frame by frame: the request's held to
//! `[server] max_body_bytes`, the upstream's passed back as it comes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::body::Body;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Any boxed error, as hyper and http-body pass them.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body as the upstream client sends it.
pub(super) type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;

/// Why the request body stopped, as the call's outcome needs it: a failed send has one hyper
/// error whichever side caused it, so the body tells which. 0 while it flows or once it ended
/// well.
#[derive(Debug, Default)]
pub(super) struct BodyEnd(AtomicU8);

const TOO_LARGE: u8 = 1;
const CLIENT_FAILED: u8 = 2;

impl BodyEnd {
    /// The body passed the limit.
    pub(super) fn too_large(&self) -> bool {
        self.0.load(Ordering::Acquire) == TOO_LARGE
    }

    /// The client's body failed (the client went away, a malformed chunk).
    pub(super) fn client_failed(&self) -> bool {
        self.0.load(Ordering::Acquire) == CLIENT_FAILED
    }
}

/// `body` held to `max` bytes: past it, the body ends with an error (so the upstream request
/// is aborted) and `end` says so.
pub(super) fn limited<B>(body: B, max: u64, end: Arc<BodyEnd>) -> UpstreamBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    Limited::new(body, max)
        .map_err(move |error| {
            let why = if error.is::<LengthLimitError>() {
                TOO_LARGE
            } else {
                CLIENT_FAILED
            };
            end.0.store(why, Ordering::Release);
            error
        })
        .boxed_unsync()
}

/// The upstream's body for the client. One that fails midway ends the client's body with an
/// error (hyper then closes the connection, so the client sees a cut answer, never a whole
/// one); the failure is logged.
pub(super) fn from_upstream(body: hyper::body::Incoming) -> Body {
    Body::new(body.map_err(|error| {
        tracing::warn!(%error, "the upstream's response body failed midway");
        error
    }))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body::Frame;
    use http_body_util::Full;

    use super::*;

    #[tokio::test]
    async fn a_body_past_the_limit_fails_and_says_so() {
        let end = Arc::new(BodyEnd::default());
        let body = limited(Full::new(Bytes::from_static(b"12345")), 4, Arc::clone(&end));
        assert!(body.collect().await.is_err());
        assert!(end.too_large() && !end.client_failed());

        let end = Arc::new(BodyEnd::default());
        let body = limited(Full::new(Bytes::from_static(b"1234")), 4, Arc::clone(&end));
        assert_eq!(
            &body.collect().await.expect("within").to_bytes()[..],
            b"1234"
        );
        assert!(!end.too_large() && !end.client_failed());
    }

    /// Two bytes, then the connection resets.
    struct Cut(bool);

    impl http_body::Body for Cut {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            if std::mem::replace(&mut self.0, true) {
                return Poll::Ready(Some(Err(std::io::Error::other("reset"))));
            }
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"ab")))))
        }
    }

    #[tokio::test]
    async fn a_failing_client_body_is_told_apart_from_one_too_large() {
        let end = Arc::new(BodyEnd::default());
        let body = limited(Cut(false), 1024, Arc::clone(&end));
        assert!(body.collect().await.is_err());
        assert!(end.client_failed() && !end.too_large());
    }
}
