//! The full pipeline in front of the tonic server.

use std::future::Future;

use http::{Method, Request};
use memorysync_pipeline::audit::{AuditLog, AuditRecordLayer};
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::clock::Clock;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::limit::SlidingWindowRateLimitLayer;
use memorysync_pipeline::pipeline::PipelineBuilder;
use memorysync_pipeline::quota::{Operation, QuotaDegradeLayer, QuotaPlans};
use memorysync_pipeline::scope::ProjectScopeLayer;
use memorysync_pipeline::{ClientAddr, TrustedProxies};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tower::util::MapRequestLayer;

use crate::memories::MemoryService;
use crate::proto::memories_server::MemoriesServer;

/// Serves `service` behind the six stages on `listener` until `shutdown` resolves.
pub(crate) async fn serve(
    config: &Config,
    clock: impl Clock + Clone,
    audit: AuditLog,
    service: MemoryService,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let keys = config
        .memory_key_store(clock.now())
        .await
        .map_err(|e| e.to_string())?;
    let proxies = TrustedProxies::new(config.health.trusted_proxies.iter().copied());
    let quotas = QuotaDegradeLayer::new(QuotaPlans::from_config(config))
        .with_classifier(classify)
        .with_clock(clock.clone());
    let pipeline = PipelineBuilder::new()
        .stage(config.health_layer().with_clock(clock.clone()))
        .stage(
            AuditRecordLayer::new(audit)
                .with_clock(clock.clone())
                .with_trusted_proxies(proxies),
        )
        .stage(ApiKeyAuthLayer::new(keys, config.environment).with_clock(clock.clone()))
        .stage(ProjectScopeLayer::new())
        .stage(SlidingWindowRateLimitLayer::new().with_clock(clock))
        .stage(quotas)
        .into_layer();
    Server::builder()
        // HTTP/1 too, so that plain load-balancer probes reach `GET /health`.
        .accept_http1(true)
        .layer(MapRequestLayer::new(record_client_addr))
        .layer(pipeline)
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
