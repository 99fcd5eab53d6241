//! The full pipeline in front of the tonic server.

use std::future::Future;

use http::{Method, Request};
use memorysync_pipeline::ClientAddr;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
use memorysync_pipeline::quota::Operation;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tower::util::MapRequestLayer;

use crate::memories::MemoryService;
use crate::proto::memories_server::MemoriesServer;

/// The deployment's options for this API: its calls are classified by their gRPC path.
pub(crate) fn options() -> DeploymentOptions {
    DeploymentOptions::new().with_classifier(classify)
}

/// Serves `service` behind the deployment's six stages on `listener` until `shutdown` resolves.
pub(crate) async fn serve(
    deployment: &Deployment,
    service: MemoryService,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    Server::builder()
        // HTTP/1 too, so that plain load-balancer probes reach `GET /health`.
        .accept_http1(true)
        .layer(MapRequestLayer::new(record_client_addr))
        .layer(deployment.layer())
        .add_service(MemoriesServer::new(service))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
        .map_err(|e| format!("grpc server: {e}"))
}

/// What a call spends: the default classifier knows the REST paths only, and every gRPC call
/// is a `POST /<package>.<Service>/<Method>`.
fn classify(_: &Method, path: &str) -> Option<Operation> {
    match path {
        "/memorysync.v1.Memories/Add" => Some(Operation::Add),
        "/memorysync.v1.Memories/Search" => Some(Operation::Query),
        _ => None,
    }
}

/// tonic records the peer as `TcpConnectInfo`; the pipeline reads `ClientAddr`.
fn record_client_addr(mut request: Request<tonic::body::Body>) -> Request<tonic::body::Body> {
    let peer = request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr);
    if let Some(peer) = peer {
        request.extensions_mut().insert(ClientAddr(peer));
    }
    request
}
