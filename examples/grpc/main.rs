//! The MemorySync memory API over gRPC (`memorysync.v1.Memories`: `Add`, `Search`), served by
//! tonic behind the full pipeline.
//!
//! ```text
//! cargo run --example grpc [-- --config FILE] [--listen ADDR]
//! ```
//! Serves on 127.0.0.1:50051 with `examples/memorysync.toml`. The pipeline goes into
//! `Server::builder().layer(..)`; its rejections are trailers-only gRPC responses
//! (UNAUTHENTICATED, INVALID_ARGUMENT, PERMISSION_DENIED, RESOURCE_EXHAUSTED) and a used-up
//! quota answers OK with an empty message. The service's code is generated from
//! `proto/memorysync.proto` and committed, so neither the example nor the library needs
//! `protoc` or a build script; a test checks that it is up to date.

mod app;
#[cfg(test)]
mod codegen_tests;
#[path = "../common/listen_args.rs"]
mod listen_args;
mod memories;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;

/// The code generated from `proto/memorysync.proto` (see `codegen_tests`).
mod proto {
    // Generated code documents what the .proto documents, with `pub` items that this example
    // does not re-export.
    #![allow(unreachable_pub, missing_docs, missing_debug_implementations)]
    #![allow(clippy::all)]
    include!("generated/memorysync.v1.rs");
}

use listen_args::parse_args;
use std::net::SocketAddr;

use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::Deployment;

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("grpc: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let (config_path, listen) = parse_args(
        std::env::args().skip(1),
        SocketAddr::from(([127, 0, 0, 1], 50051)),
    )?;
    let config = Config::load(&config_path).map_err(|e| e.to_string())?;
    let deployment = Deployment::start(&config, app::options())
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!(
        "memorysync gRPC server on http://{listen}, config {}",
        config_path.display()
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let service = memories::MemoryService::default();
    app::serve(&deployment, service, listener, shutdown).await?;
    deployment
        .shutdown(config.server.shutdown_grace)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
