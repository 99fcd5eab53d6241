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

use std::net::SocketAddr;
use std::path::PathBuf;

use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, MemoryAuditSink};
use memorysync_pipeline::clock::SystemClock;
use memorysync_pipeline::config::Config;

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("grpc: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let (config_path, listen) = parse_args(std::env::args().skip(1))?;
    let config = Config::load(&config_path).map_err(|e| e.to_string())?;
    // Kept in memory here; the server example shows the JSON Lines files of `audit.dir`.
    let settings = AuditLogConfig::new().with_retention(config.audit.retention);
    let audit = AuditLog::start(MemoryAuditSink::new(), settings).map_err(|e| e.to_string())?;
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
    app::serve(
        &config,
        SystemClock,
        audit.clone(),
        service,
        listener,
        shutdown,
    )
    .await?;
    audit.flush().await;
    Ok(())
}

/// `--config FILE` and `--listen ADDR`, both optional.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, SocketAddr), String> {
    let mut config = PathBuf::from("examples/memorysync.toml");
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 50051));
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--config" => config = value.into(),
            "--listen" => {
                listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?
            }
            _ => {
                return Err(format!(
                    "unknown argument {flag}; usage: [--config FILE] [--listen ADDR]"
                ));
            }
        }
    }
    Ok((config, listen))
}
