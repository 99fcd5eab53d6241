//! Serving a router on one listener: a header-read timeout (a TLS handshake included), an idle
//! timeout and a cap on connections, so that slow or idle clients cannot hold the server; the
//! body limit in front of everything; and a graceful stop bounded in time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use memorysync_pipeline::ClientAddr;
use memorysync_pipeline::config::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::activity::Activity;
use super::body_limit::Bodies;
use super::lingering::Lingering;

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown` resolves, then lets
/// open connections finish for at most `drain`; those still open then are closed. Returns when
/// the signal came.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    (router, bodies): (Router, Bodies),
    limits: &ServerConfig,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Instant {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Also bounds the wait for the next request on a kept-alive connection.
        .header_read_timeout(limits.header_read_timeout);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        // Waiting for a permit before accepting leaves further clients in the listen backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            builder: builder.clone(),
            // From the accept: a handshake and the first request's header share one deadline.
            first_request_by: Instant::now() + limits.header_read_timeout,
            router: router.clone(),
            peer,
            max_body: limits.max_body_bytes,
            bodies,
            idle: limits.idle_timeout,
            linger: limits.header_read_timeout.min(Duration::from_secs(2)),
        };
        let (tls, stopping) = (tls.clone(), stopping.clone());
        connections.spawn(async move {
            connection.accept(stream, tls, stopping).await;
            drop(permit);
        });
    }
    let signalled = Instant::now();
    drop(listener);
    let _ = stop.send(true);
    let open = connections.len();
    if tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            of = open,
            "connections still open at the end of their grace; closing them"
        );
        connections.abort_all();
    }
    signalled
}

/// One accepted connection and what serving it needs.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    first_request_by: Instant,
    router: Router,
    peer: SocketAddr,
    max_body: u64,
    bodies: Bodies,
    idle: Duration,
    linger: Duration,
}

impl Connection {
    /// The TLS handshake, if any, then the requests.
    async fn accept(
        self,
        stream: TcpStream,
        tls: Option<TlsAcceptor>,
        stopping: watch::Receiver<bool>,
    ) {
        let io = Lingering::new(stream, self.linger);
        let Some(tls) = tls else {
            return self.run(io, stopping).await;
        };
        // A client that connects and sends nothing, or stalls mid-handshake, must not hold a
        // connection slot: the handshake has the header-read deadline too.
        match tokio::time::timeout_at(self.first_request_by, tls.accept(io)).await {
            Ok(Ok(io)) => self.run(io, stopping).await,
            // Plain HTTP on the TLS port ends here: rustls refuses the first record.
            Ok(Err(error)) => tracing::debug!(%error, peer = %self.peer, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn run<I>(self, io: I, mut stopping: watch::Receiver<bool>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::default());
        let (router, peer, max_body, bodies) = (self.router, self.peer, self.max_body, self.bodies);
        let tracked = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            let busy = tracked.busy();
            let router = router.clone();
            request.extensions_mut().insert(ClientAddr(peer));
            async move {
                let _busy = busy;
                let request = request.map(axum::body::Body::new);
                match super::body_limit::admit(request, max_body, bodies).await {
                    Ok(request) => router.oneshot(request).await,
                    Err(refused) => Ok(refused),
                }
            }
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(connection);
        let mut closing = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                // Before hyper's own header timer runs: the bytes that tell HTTP/1 from
                // HTTP/2 are read without one, and HTTP/2 has none.
                () = activity.no_request_by(self.first_request_by) => return,
                () = activity.idle_for(self.idle), if !closing => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                changed = stopping.wait_for(|stop| *stop), if !closing => {
                    let _ = changed;
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
