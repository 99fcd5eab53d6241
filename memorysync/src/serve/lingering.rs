//! A lingering close. When the server answers before reading a body (413 for a declared length
//! over the limit) and closes with the rest of the body unread, the kernel resets the
//! connection, and a client still sending never reads the answer. So the close sends FIN, then
//! reads and discards what the client still sends, for a bounded time, before closing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Discarded at most: past it the client is sending for its own sake.
const MAX_DISCARD: usize = 64 * 1024 * 1024;

/// A TCP stream whose shutdown lingers for at most `linger`.
pub(crate) struct Lingering {
    stream: TcpStream,
    linger: Duration,
    state: Close,
}

enum Close {
    Open,
    Draining {
        until: Pin<Box<Sleep>>,
        discarded: usize,
    },
    Done,
}

impl Lingering {
    pub(crate) fn new(stream: TcpStream, linger: Duration) -> Self {
        Lingering {
            stream,
            linger,
            state: Close::Open,
        }
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                Close::Open => {
                    ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
                    this.state = Close::Draining {
                        until: Box::pin(tokio::time::sleep(this.linger)),
                        discarded: 0,
                    };
                }
                Close::Draining { until, discarded } => {
                    if until.as_mut().poll(cx).is_ready() || *discarded > MAX_DISCARD {
                        this.state = Close::Done;
                        continue;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match ready!(Pin::new(&mut this.stream).poll_read(cx, &mut buf)) {
                        Ok(()) if !buf.filled().is_empty() => *discarded += buf.filled().len(),
                        // The client closed too, or the connection failed: nothing to wait for.
                        _ => this.state = Close::Done,
                    }
                }
                Close::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}
