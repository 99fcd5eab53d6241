//! The full pipeline in front of the hyper API, and the accept loop that tells every request
//! which peer its connection came from.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use memorysync_pipeline::ClientAddr;
use memorysync_pipeline::deployment::Deployment;
use tokio::net::TcpListener;
use tower::{Service, ServiceExt, service_fn};

use crate::api::Memories;

/// The memory API behind the deployment's six stages.
pub(crate) fn build(
    deployment: &Deployment,
) -> impl Service<
    Request<Incoming>,
    Response = Response<impl Body<Data = Bytes, Error = Infallible> + Send + 'static>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    let memories = Memories::default();
    let api = service_fn(move |request| memories.clone().handle(request));
    deployment.layer().around(api)
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests.
pub(crate) async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    S: Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    let connections = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Failures here (a reset before accept, no file descriptors left) must not
                // stop the server; the pause keeps a lasting one from spinning the loop.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(with_peer(service.clone(), peer));
        let connection = connections
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
}

/// `service` with the connection's peer address in every request's extensions: the health
/// route limits per client IP and the audit log records it, and only the accept loop knows it.
fn with_peer<S>(
    service: S,
    peer: SocketAddr,
) -> impl Service<Request<Incoming>, Response = S::Response, Error = S::Error, Future = S::Future> + Clone
where
    S: Service<Request<Incoming>> + Clone,
{
    service.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ClientAddr(peer));
        request
    })
}
