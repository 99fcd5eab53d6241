//! The library in an axum application: the demo memory API behind the full pipeline, built by
//! `Deployment::start` from a config file and served by `axum::serve`.
//!
//! ```text
//! cargo run --example server [-- --config FILE] [--listen ADDR] [--bare | --stages LIST]
//!     [--instance NAME]
//! ```
//! Serves on 127.0.0.1:8080 with `examples/memorysync.toml`. For comparisons, `--bare` serves the
//! same API with no pipeline at all, every request scoped to `proj_demo` in development, and
//! `--stages auth,scope,limit` behind only the deployment's authentication, scope and rate-limit
//! stages (`--stages all`, the default, is the full pipeline). `--instance` names this process's
//! audit chain.
//!
//! This is how a Rust service puts the pipeline in front of its own routes. The product server
//! is the `memorysync` binary (`memorysync serve`): the same pipeline, plus what an exposed
//! server needs (the `[server]` connection limits and body limit, HTTPS, an admin listener for
//! `/metrics`, a bounded shutdown).

mod app;
mod args;
#[path = "../../memorysync/src/demo.rs"]
mod memories;
#[path = "../common/shutdown.rs"]
mod shutdown;

#[cfg(test)]
#[path = "../../memorysync/tests/common/client.rs"]
mod client;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use memorysync_pipeline::ClientAddr;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::DeploymentOptions;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let ran = match args::Args::parse(std::env::args().skip(1)) {
        Ok(args) => run(args).await,
        Err(message) => Err(message),
    };
    if let Err(message) = ran {
        eprintln!("server: {message}");
        std::process::exit(1);
    }
}

/// Serves until SIGINT or SIGTERM, then lets requests finish and shuts the deployment down.
async fn run(args: args::Args) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let mut options = DeploymentOptions::new();
    if let Some(name) = &args.instance {
        options = options.with_instance(name.clone());
    }
    let app::App { router, deployment } = app::build_with(&config, args.mode, options).await?;
    println!(
        "server example on http://{bound} ({})",
        args.mode.describe()
    );
    // The pipeline reads the client address that axum records as `ConnectInfo`.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown::shutdown_signal())
    .await
    .map_err(|e| e.to_string())?;
    if let Some(deployment) = deployment {
        // Flushes the audit log and stops the webhook worker; lost audit events are an error.
        let report = deployment
            .shutdown(config.server.shutdown_grace)
            .await
            .map_err(|loss| loss.to_string())?;
        println!("audit log closed: {} events written", report.audit.written);
    }
    Ok(())
}

/// Copies axum's `ConnectInfo` into the `ClientAddr` the stages read.
pub(crate) async fn record_client_addr(mut request: Request) -> Request {
    if let Some(ConnectInfo(addr)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    {
        request.extensions_mut().insert(ClientAddr(addr));
    }
    request
}
