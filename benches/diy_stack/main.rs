//! The stack an engineer would assemble by hand in front of the memory API, served for
//! `scripts/load.sh` to compare with the pipeline: axum, a SHA-256/`HashMap` API-key layer that
//! also checks `X-Project-ID`, `tower_governor` keyed by the API key, and tower-http's
//! `TraceLayer`, around the same handlers as the server example.
//!
//! ```text
//! cargo bench --bench diy_stack -- --config FILE --listen ADDR
//! ```
//! `FILE` is a memorysync config: only its `[[keys]]` are read (`sha256`, `id`, `project`,
//! `environment`, `rps`). Without `--listen` it serves nothing and exits, so that a plain
//! `cargo bench` or `cargo test --benches` passes over it.

mod auth;
mod keys;
mod limit;
#[path = "../../memorysync/src/demo.rs"]
mod memories;
#[path = "../../examples/common/shutdown.rs"]
mod shutdown;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Extension;
use memorysync_pipeline::deployment::DeploymentTombstones;
use memorysync_pipeline::tombstone::MemoryTombstones;
use tower_http::trace::TraceLayer;

const USAGE: &str = "usage: diy_stack --config FILE --listen ADDR";

/// The handlers' `DELETE` leaves tombstones; nothing reads them here, so the period is moot.
const TOMBSTONE_PERIOD: std::time::Duration = std::time::Duration::from_secs(3600);

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let words: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` hands every bench `--bench`; this one only serves when asked to.
    if !words.iter().any(|w| w == "--listen") {
        eprintln!("diy_stack: a server for scripts/load.sh, not a benchmark; {USAGE}");
        return;
    }
    if let Err(message) = run(words.into_iter()).await {
        eprintln!("diy_stack: {message}");
        std::process::exit(1);
    }
}

async fn run(mut words: impl Iterator<Item = String>) -> Result<(), String> {
    let mut config: Option<PathBuf> = None;
    let mut listen: Option<SocketAddr> = None;
    while let Some(word) = words.next() {
        let value = words.next().ok_or(USAGE)?;
        match word.as_str() {
            "--config" => config = Some(value.into()),
            "--listen" => {
                listen = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--listen: not an address: {value}"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let (Some(config), Some(listen)) = (config, listen) else {
        return Err(USAGE.to_owned());
    };
    let keys = keys::KeyTable::load(&config)?;
    let governor = limit::per_key(keys.rps())?;
    let tombstones = DeploymentTombstones::Memory(MemoryTombstones::new(TOMBSTONE_PERIOD));
    // `Router::layer` wraps outside in: trace, then auth, then the limit, then the handlers.
    let app = memories::router()
        .layer(Extension(tombstones))
        .layer(governor)
        .layer(auth::KeyAuthLayer::new(keys))
        .layer(TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("diy stack on http://{bound}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
