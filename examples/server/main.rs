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
mod shared;
mod shutdown;
#[cfg(all(test, feature = "redis"))]
#[path = "../../tests/common/redis.rs"]
mod test_redis;
#[cfg(test)]
mod tests;
mod tombstones;
#[cfg(all(test, feature = "webhook-client"))]
mod webhook_tests;
mod webhooks;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use memorysync_pipeline::clock::SystemClock;
use memorysync_pipeline::config::Config;
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
    let instance = instance_name(&args, &config)?;
    if !args.bare && config.environment == Environment::Development {
        print_key_help(&config, &args.config);
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let app::App {
        router,
        audit,
        webhooks,
    } = app::build(&config, args.bare, &instance, SystemClock, log_alert).await?;
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
    let app = app::App {
        router,
        audit,
        webhooks,
    };
    serve_until(listener, app, &config, shutdown_signal()).await?;
    println!("memorysync server stopped");
    Ok(())
}

/// This process's audit chain: `--instance`, else `[server] instance`, else the name kept in the
/// audit directory. With the audit log on Redis and no name given there is no place to keep one,
/// and a name made up per start would open a new chain at every restart.
pub(crate) fn instance_name(args: &args::Args, config: &Config) -> Result<String, String> {
    use memorysync_pipeline::audit::{INSTANCE_NAME_RULE, generate_instance_name, instance_in_dir};
    use memorysync_pipeline::config::StoreBackend;
    if let Some(name) = &args.instance {
        return Ok(name.clone());
    }
    if let Some(name) = &config.server.instance {
        return Ok(name.clone());
    }
    match (&config.audit.dir, config.store.backend) {
        (Some(dir), _) => instance_in_dir(dir)
            .map_err(|e| format!("audit dir {}: instance name: {e}", dir.display())),
        (None, StoreBackend::Redis) if !args.bare => Err(format!(
            "the audit log is on Redis: pass --instance NAME or set [server] instance ({INSTANCE_NAME_RULE})"
        )),
        // The audit log lives in memory: its chain ends with the process anyway.
        (None, _) => generate_instance_name().map_err(|e| e.to_string()),
    }
}

/// Serves `app` until `shutdown` resolves, then stops within `[server] shutdown_grace_ms`:
/// connections get half of it to finish, then webhooks and the audit log share the rest.
pub(crate) async fn serve_until(
    listener: tokio::net::TcpListener,
    app: app::App,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let grace = config.server.shutdown_grace;
    let signalled = serve::serve(listener, app.router, &config.server, shutdown, grace / 2).await;
    let fallback = shutdown::fallback_dirs(config);
    shutdown::finish(app.webhooks, app.audit, &fallback, signalled + grace).await
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
