//! Both listeners from start to stop: one shutdown signal for the two, then the deployment's
//! shutdown within what is left of the grace, and the report.

use std::future::Future;
use std::path::Path;

use axum::Router;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::ShutdownReport;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::app::App;
use super::body_limit::Bodies;
use super::listener;

/// What the server listens on.
pub(crate) struct Listeners {
    /// The pipeline and the backend.
    pub(crate) public: TcpListener,
    /// `--admin-listen`, with its routes.
    pub(crate) admin: Option<(TcpListener, Router)>,
    /// `[server.tls]`, for both.
    pub(crate) tls: Option<TlsAcceptor>,
}

/// Serves `app` until `shutdown` resolves, then stops within `[server] shutdown_grace_ms`:
/// connections on both listeners get half of it to finish, then the deployment (webhooks,
/// audit log) the rest. The report is printed; audit events lost are the error. With
/// `reload`, the file there is reconciled again on every SIGHUP until then.
pub(crate) async fn serve_until(
    listeners: Listeners,
    app: App,
    config: &Config,
    shutdown: impl Future<Output = ()>,
    reload: Option<(&Path, super::reload::Hangups)>,
) -> Result<(), String> {
    let grace = config.server.shutdown_grace;
    let (stop, stopped) = watch::channel(false);
    let until_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let signal = async {
        shutdown.await;
        let _ = stop.send(true);
    };
    let Listeners { public, admin, tls } = listeners;
    let public = listener::serve(
        public,
        tls.clone(),
        (app.public, app.bodies),
        &config.server,
        until_stopped(),
        grace / 2,
    );
    let admin = async {
        if let Some((listener, routes)) = admin {
            let drain = grace / 2;
            listener::serve(
                listener,
                tls,
                (routes, Bodies::Read),
                &config.server,
                until_stopped(),
                drain,
            )
            .await;
        }
    };
    let deployment = &app.deployment;
    let reloads = async {
        if let Some((path, hangups)) = reload {
            let reloading = super::reload::Reloading {
                deployment,
                tokens: &app.admin_tokens,
                path,
                started: config,
            };
            super::reload::on_hangup(reloading, hangups, until_stopped()).await;
        }
    };
    let ((), signalled, (), ()) = tokio::join!(signal, public, admin, reloads);
    let left = (signalled + grace).saturating_duration_since(tokio::time::Instant::now());
    match app.deployment.shutdown(left).await {
        Ok(report) => {
            print_report(&report);
            if report.lost_webhooks > 0 {
                return Err(format!(
                    "{} webhook events lost: the queue did not take them and no fallback file \
                     could be written",
                    report.lost_webhooks
                ));
            }
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
    if let Some((count, path)) = &report.unqueued_webhooks {
        println!(
            "webhook events the queue did not take: {count} kept in {}",
            path.display()
        );
    }
    if let Some((count, path)) = &report.unwritten {
        println!(
            "audit events not written to the log: {count} kept in {}",
            path.display()
        );
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The signals are caught from this call on, so that
/// one sent as soon as the server says it listens stops it gracefully instead of killing it:
/// call it before the startup lines.
pub(crate) fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    #[cfg(unix)]
    let stopped = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|e| format!("cannot catch SIGTERM: {e}"))?;
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(|e| format!("cannot catch SIGINT: {e}"))?;
        async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        }
    };
    #[cfg(not(unix))]
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Ok(async move {
        stopped.await;
        println!("shutting down: finishing in-flight requests");
    })
}
