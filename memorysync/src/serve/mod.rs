//! `memorysync serve`: the pipeline in front of the demo memory API, or with `--upstream URL` in
//! front of any HTTP service (the reverse proxy of `crate::proxy`), on the public listener; and
//! `GET /metrics` on an admin listener of its own; HTTPS on both with `[server.tls]`.
//!
//! Each listener enforces `[server]` (header-read and idle timeouts, a connection cap, the body
//! limit). On SIGHUP the config file is read again and its keys and plans reconciled with the
//! stores, without a restart (`reload`). On SIGINT or SIGTERM both stop accepting, open
//! connections get half of `shutdown_grace_ms` to finish, and the deployment (webhook
//! deliveries, the audit log) the rest; audit events that could be kept nowhere make the exit
//! non-zero.

mod activity;
mod admin;
mod app;
mod body_limit;
mod lingering;
mod listener;
#[cfg(feature = "metrics")]
mod metrics;
mod problem;
mod reload;
mod serving;
mod tls;

#[cfg(test)]
#[path = "../../tests/common/client.rs"]
mod client;
#[cfg(all(test, feature = "redis"))]
mod redis_tests;
#[cfg(test)]
mod server_tests;
#[cfg(test)]
#[path = "../../tests/common/tls.rs"]
mod test_tls;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(all(test, feature = "webhook-client"))]
mod webhook_tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memorysync_pipeline::Environment;
use memorysync_pipeline::admin::AdminApi;
use memorysync_pipeline::audit::{INSTANCE_NAME_RULE, is_instance_name};
use memorysync_pipeline::config::{Config, StoreBackend};
use memorysync_pipeline::deployment::DeploymentOptions;
use memorysync_pipeline::quota::QuotaAlert;
use tokio::net::TcpListener;

use crate::proxy::Upstream;
use app::Backend;
use serving::Listeners;

/// The arguments of `memorysync serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The config file (TOML): keys, projects, stores, `[server]` limits and `[server.tls]`.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Where the API and `GET /health` are served.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Puts the pipeline in front of this HTTP service (`http://host:port[/base]` or
    /// `https://...`) instead of the demo memory API: a reverse proxy that passes the identity
    /// upstream as `X-MemorySync-Key-Id`, `X-MemorySync-Project` and `X-MemorySync-Environment`.
    /// The upstream must be reachable only through this proxy, since it trusts those headers.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// A second listener, for operators only: `GET /metrics` (Prometheus). `/metrics` is never
    /// served on `--listen`.
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    /// Names this process's audit chain (1 to 64 characters of A-Z a-z 0-9 . _ -), over
    /// `[server] instance` and the name kept in the audit directory.
    #[arg(long, value_name = "NAME", value_parser = instance_name)]
    instance: Option<String>,
    /// Serves `environment = "production"` on `store.backend = "memory"` although a restart
    /// then undoes revocations, tombstones, quota counters, usage and the webhook queue.
    #[arg(long)]
    allow_volatile_state: bool,
}

/// Why a production config on the memory backend is refused (and fails preflight).
pub(crate) const VOLATILE_STATE_REFUSAL: &str = "environment = \"production\" on store.backend = \"memory\": a restart would undo keys revoked at run time, tombstones, quota counters and alert marks, usage and the webhook queue; use store.backend = \"embedded\" with store.path (one instance) or \"redis\" (several), or start with --allow-volatile-state to accept the loss";

fn instance_name(name: &str) -> Result<String, String> {
    if is_instance_name(name) {
        Ok(name.to_owned())
    } else {
        Err(INSTANCE_NAME_RULE.to_owned())
    }
}

/// Serves until SIGINT or SIGTERM, then stops within the config's shutdown grace; reconciles
/// the config file again on SIGHUP.
pub(crate) fn run(args: ServeArgs) -> Result<(), String> {
    // Logs go to standard error; standard output carries the lines an operator (or a test)
    // reads: the addresses, the shutdown report.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, not escape codes in a log collector's files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(start(args))
}

async fn start(args: ServeArgs) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    refuse_volatile_state(&config, args.allow_volatile_state)?;
    // Before anything listens: a certificate that does not load is a startup error, not a
    // handshake failing for every client.
    let tls = config.server.tls.as_ref().map(tls::acceptor).transpose()?;
    let public = bind(args.listen, "--listen").await?;
    let admin = match args.admin_listen {
        // The metrics recorder is installed before the deployment starts, to count from the
        // first event.
        Some(addr) => {
            admin::check_listener(addr, &config)?;
            Some((
                bind(addr, "--admin-listen").await?,
                admin::metrics_routes()?,
            ))
        }
        None => None,
    };
    // Before the store is opened: its lock file names this process to `memorysync store backup`.
    #[cfg(feature = "embedded")]
    let backup_requests = match config.store.backend {
        memorysync_pipeline::config::StoreBackend::Embedded => {
            Some(crate::store::backup::catch_requests()?)
        }
        _ => None,
    };
    let mut options = DeploymentOptions::new().with_alerts(log_alert);
    if let Some(name) = &args.instance {
        options = options.with_instance(name.clone());
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let backend = match &args.upstream {
        Some(url) => {
            let upstream =
                Upstream::new(url, &config, scheme).map_err(|e| format!("--upstream: {e}"))?;
            options = options.with_health_check(upstream.health_check());
            Backend::Upstream(Box::new(upstream))
        }
        None => Backend::Demo,
    };
    let serves = backend.describe();
    let app = app::build(&config, backend, options).await?;
    // `memorysync store backup` asks this process for a snapshot of the embedded store.
    #[cfg(feature = "embedded")]
    if let (Some(store), Some(requests)) = (app.deployment.embedded_store(), backup_requests) {
        crate::store::backup::answer_requests(store.clone(), requests);
    }
    // Caught before the lines that say the server listens: a signal sent as soon as they are
    // read must find its handler.
    let shutdown = serving::shutdown_signal()?;
    let hangups = reload::catch_hangups();
    if config.environment == Environment::Development {
        print_key_help(&config, &args.config);
    }
    // Tests that start the server as a process read the addresses from these lines.
    println!(
        "memorysync on {scheme}://{} ({serves}), config {}, instance {}",
        local_addr(&public)?,
        args.config.display(),
        app.deployment.instance()
    );
    if let Some((listener, _)) = &admin {
        println!(
            "memorysync admin on {scheme}://{} ({})",
            local_addr(listener)?,
            admin::SERVES
        );
    }
    let admin = admin.map(|(listener, metrics)| {
        // The console's session cookie is `Secure` when the listener serves TLS.
        let api = AdminApi::new(Arc::clone(&app.deployment), app.admin_tokens.clone())
            .secure_cookies(tls.is_some());
        (listener, admin::router(metrics, &api))
    });
    let listeners = Listeners { public, admin, tls };
    let reload = Some((args.config.as_path(), hangups));
    serving::serve_until(listeners, app, &config, shutdown, reload).await?;
    println!("memorysync stopped");
    Ok(())
}

/// A production deployment on the memory backend starts only when the operator said so.
fn refuse_volatile_state(config: &Config, allowed: bool) -> Result<(), String> {
    let volatile = config.environment == Environment::Production
        && config.store.backend == StoreBackend::Memory;
    match (volatile, allowed) {
        (true, false) => Err(VOLATILE_STATE_REFUSAL.to_owned()),
        (true, true) => {
            tracing::warn!(
                "--allow-volatile-state: production state is kept in memory only; a restart loses it"
            );
            Ok(())
        }
        (false, _) => Ok(()),
    }
}

async fn bind(addr: SocketAddr, flag: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{flag}: cannot listen on {addr}: {e}"))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, String> {
    listener.local_addr().map_err(|e| e.to_string())
}

/// Quota alerts besides the webhooks: a log line.
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

fn print_key_help(config: &Config, path: &Path) {
    let project = config
        .projects
        .first()
        .map_or("proj_demo", |p| p.id.as_str());
    if config.keys.is_empty() {
        println!("no API keys configured yet.");
    }
    println!(
        "to create a development key: memorysync keygen --project {project} --environment development --rps 10 --rpm 300\n\
         then add the [[keys]] entry it prints to {} and restart; send the key as `Authorization: Bearer <key>` with `X-Project-ID: {project}`",
        path.display()
    );
}
