//! The MemorySync memory API served by hyper 1 directly (no framework), behind the full
//! pipeline.
//!
//! ```text
//! cargo run --example hyper_server [-- --config FILE] [--listen ADDR]
//! ```
//! Serves on 127.0.0.1:8081 with `examples/memorysync.toml`. The pipeline is one tower layer
//! over a `service_fn`; `hyper_util`'s `TowerToHyperService` hands it to hyper, and the accept
//! loop puts each connection's peer address into its requests as `ClientAddr`.

mod api;
mod app;
#[path = "../common/listen_args.rs"]
mod listen_args;
#[cfg(test)]
mod tests;

use listen_args::parse_args;
use std::net::SocketAddr;

use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(message) = run().await {
        eprintln!("hyper_server: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let (config_path, listen) = parse_args(
        std::env::args().skip(1),
        SocketAddr::from(([127, 0, 0, 1], 8081)),
    )?;
    let config = Config::load(&config_path).map_err(|e| e.to_string())?;
    let deployment = Deployment::start(&config, DeploymentOptions::new())
        .await
        .map_err(|e| e.to_string())?;
    let service = app::build(&deployment);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!(
        "memorysync hyper server on http://{listen}, config {}",
        config_path.display()
    );
    app::serve(listener, service, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    // Requests have finished: webhooks drain, the audit log writes out what it holds.
    deployment
        .shutdown(config.server.shutdown_grace)
        .await
        .map_err(|e| e.to_string())?;
    println!("memorysync hyper server stopped");
    Ok(())
}
