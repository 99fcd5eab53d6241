//! Serving the router: a header-read timeout, an idle timeout and a cap on connections, so that
//! slow or idle clients cannot hold the server; the body limit in front of everything; and a
//! graceful stop bounded in time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use memorysync_pipeline::config::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::activity::Activity;
use crate::lingering::Lingering;

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// for at most `drain`; those still open then are closed. Returns when the signal came.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
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
            header_read_timeout: limits.header_read_timeout,
            router: router.clone(),
            peer,
            max_body: limits.max_body_bytes,
            idle: limits.idle_timeout,
            linger: limits.header_read_timeout.min(Duration::from_secs(2)),
        };
        let stopping = stopping.clone();
        connections.spawn(async move {
            connection.run(stream, stopping).await;
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
    header_read_timeout: Duration,
    router: Router,
    peer: SocketAddr,
    max_body: u64,
    idle: Duration,
    linger: Duration,
}

impl Connection {
    async fn run(self, stream: tokio::net::TcpStream, mut stopping: watch::Receiver<bool>) {
        let activity = Arc::new(Activity::default());
        let (router, peer, max_body) = (self.router, self.peer, self.max_body);
        let tracked = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            let busy = tracked.busy();
            let router = router.clone();
            request.extensions_mut().insert(ConnectInfo(peer));
            async move {
                let _busy = busy;
                let request = request.map(axum::body::Body::new);
                match crate::body_limit::admit(request, max_body).await {
                    Ok(request) => router.oneshot(request).await,
                    Err(refused) => Ok(refused),
                }
            }
        });
        let io = TokioIo::new(Lingering::new(stream, self.linger));
        let connection = self.builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(connection);
        let mut closing = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                // Before hyper's own header timer runs: the bytes that tell HTTP/1 from
                // HTTP/2 are read without one, and HTTP/2 has none.
                () = activity.no_request_within(self.header_read_timeout) => return,
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
