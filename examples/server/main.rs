//! The MemorySync memory API behind the full pipeline.
//!
//! ```text
//! cargo run --example server [-- --config FILE] [--listen ADDR] [--bare] [--instance NAME]
//! ```
//! Serves on 127.0.0.1:8080 with `examples/memorysync.toml`. `--bare` serves the same API with no
//! pipeline at all, every request scoped to `proj_demo` in development, for comparisons.
//! `--instance` (or `[server] instance`) names this process's audit chain; on Redis its audit
//! stream is `memorysync:audit:<NAME>`. Without it, the name generated at the first start is
//! kept in `<audit dir>/instance`; with the audit log on Redis, a name must be given.

mod activity;
mod app;
mod args;
mod body_limit;
#[cfg(test)]
mod instance_tests;
mod lingering;
mod memories;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(all(test, feature = "redis", feature = "webhook-client"))]
mod process_tests;
#[cfg(all(test, feature = "redis", feature = "webhook-client"))]
mod processes;
#[cfg(all(test, feature = "redis"))]
mod redis_tests;
mod serve;
#[cfg(test)]
mod server_tests;
#[cfg(all(test, feature = "redis"))]
#[path = "../../tests/common/redis.rs"]
mod test_redis;
#[cfg(test)]
mod tests;
#[cfg(all(test, feature = "webhook-client"))]
mod webhook_tests;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{DeploymentOptions, ShutdownReport};
use memorysync_pipeline::quota::QuotaAlert;
use memorysync_pipeline::{ClientAddr, Environment};

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

/// Serves until SIGINT or SIGTERM, then shuts down gracefully.
pub(crate) async fn run(args: args::Args) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    if !args.bare && config.environment == Environment::Development {
        print_key_help(&config, &args.config);
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let mut options = DeploymentOptions::new().with_alerts(log_alert);
    if let Some(name) = &args.instance {
        options = options.with_instance(name.clone());
    }
    let app::App { router, deployment } = app::build_with(&config, args.bare, options).await?;
    let instance = deployment
        .as_ref()
        .map_or_else(|| "none (bare)".to_owned(), |d| d.instance().to_owned());
    // Outside the pipeline, like `/health`: a scraper has no API key.
    #[cfg(feature = "metrics")]
    let router = router.merge(metrics::router()?);
    let mode = if args.bare {
        "bare, no pipeline"
    } else {
        "full pipeline"
    };
    // Tests that start the server as a process read the address from this line.
    println!(
        "memorysync server on http://{bound} ({mode}), config {}, instance {instance}",
        args.config.display()
    );
    let app = app::App { router, deployment };
    serve_until(listener, app, &config, shutdown_signal()).await?;
    println!("memorysync server stopped");
    Ok(())
}

/// Serves `app` until `shutdown` resolves, then stops within `[server] shutdown_grace_ms`:
/// connections get half of it to finish, then the deployment (webhooks, audit log) the rest.
pub(crate) async fn serve_until(
    listener: tokio::net::TcpListener,
    app: app::App,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let grace = config.server.shutdown_grace;
    let signalled = serve::serve(listener, app.router, &config.server, shutdown, grace / 2).await;
    let Some(deployment) = app.deployment else {
        return Ok(());
    };
    let left = (signalled + grace).saturating_duration_since(tokio::time::Instant::now());
    match deployment.shutdown(left).await {
        Ok(report) => {
            print_report(&report);
            Ok(())
        }
        Err(loss) => {
            print_report(&loss.report);
            Err(loss.to_string())
        }
    }
}

/// What the shutdown did, for the operator watching the process.
fn print_report(report: &ShutdownReport) {
    if let Some(webhooks) = &report.webhooks {
        println!("webhooks stopped: {webhooks:?}");
    }
    let audit = &report.audit;
    println!(
        "audit log closed: {} events written, {} waited for room, {} lost",
        audit.written, audit.waited_for_room, audit.dropped
    );
    if let Some((count, path)) = &report.unwritten {
        println!(
            "audit events not written to the log: {count} kept in {}",
            path.display()
        );
    }
}

/// The server's alert sink besides the webhooks: a log line.
fn log_alert(alert: &QuotaAlert) {
    tracing::info!(
        event = alert.event_type(),
        project = &*alert.project,
        operation = %alert.operation,
        month = %alert.month,
        threshold = alert.threshold,
        used = alert.used,
        limit = alert.limit,
        "quota alert"
    );
}

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

fn print_key_help(config: &Config, path: &std::path::Path) {
    let project = config
        .projects
        .first()
        .map_or("proj_demo", |p| p.id.as_str());
    if config.keys.is_empty() {
        println!("no API keys configured yet.");
    }
    println!(
        "to create a development key: cargo run -p memorysync-server -- keygen --project {project} --environment development --rps 10 --rpm 300\n\
         then add the [[keys]] entry it prints to {} and restart; send the key as `Authorization: Bearer <key>` with `X-Project-ID: {project}`",
        path.display()
    );
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    println!("shutting down: finishing in-flight requests");
}
