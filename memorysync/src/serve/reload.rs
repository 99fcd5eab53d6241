//! SIGHUP: the config file read again and reconciled with the stores, without a restart.
//!
//! Only what [`Deployment::reconcile`] reconciles applies: the keys (added, changed, revoked)
//! and the projects' plans, and `[[admin_tokens]]` (a token removed from the file stops working,
//! whatever the stores say of the rest). Every other field of the file takes a restart: `environment`,
//! `[store]`, `[server]` and `[server.tls]` (listeners, limits, certificates), `[limits]` (the
//! default window lengths; a key's own windows reload with the key), `[audit]`,
//! `[health]`, `[[webhooks]]` and `[webhooks_retry]`, `[[quota.routes]]`, `[upstream]` and
//! `[admin]`; a reload that finds one of them changed says so and leaves it as it
//! was. A file that does not load, or that the store refuses (an older `config_version`, or
//! another file with the applied one), changes nothing; the server keeps serving either way.
//! Each outcome is logged, and printed as one line on standard output.

use std::future::Future;
use std::path::Path;

use memorysync_pipeline::admin::AdminTokens;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::Deployment;

/// SIGHUP as caught since [`catch_hangups`]; `None` where it cannot be caught.
#[cfg(unix)]
pub(crate) type Hangups = Option<tokio::signal::unix::Signal>;
/// SIGHUP as caught since [`catch_hangups`]; `None` where it cannot be caught.
#[cfg(not(unix))]
pub(crate) type Hangups = Option<()>;

/// Catches SIGHUP from now on: called before the server says it listens, so that a SIGHUP sent
/// at once reloads the file instead of ending the process (its default action).
pub(crate) fn catch_hangups() -> Hangups {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(hangups) => Some(hangups),
            Err(error) => {
                tracing::warn!(%error, "SIGHUP not handled: config edits take a restart");
                None
            }
        }
    }
    #[cfg(not(unix))]
    None
}

/// What a reload changes, and what it compares with.
#[derive(Clone, Copy)]
pub(crate) struct Reloading<'a> {
    /// Where the keys and plans are reconciled.
    pub(crate) deployment: &'a Deployment,
    /// The admin API's tokens, replaced by the file's.
    pub(crate) tokens: &'a AdminTokens,
    /// The config file.
    pub(crate) path: &'a Path,
    /// The config the process started with: what the fields that take a restart are compared
    /// against.
    pub(crate) started: &'a Config,
}

/// Reloads the file on every SIGHUP in `hangups` until `until` resolves.
pub(crate) async fn on_hangup(
    reloading: Reloading<'_>,
    hangups: Hangups,
    until: impl Future<Output = ()>,
) {
    #[cfg(unix)]
    if let Some(mut hangups) = hangups {
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => return,
                received = hangups.recv() => {
                    if received.is_none() {
                        return;
                    }
                    println!("{}", reload(reloading).await);
                }
            }
        }
    }
    let _ = (reloading, hangups);
    until.await;
}

/// Reads the file and puts its admin tokens in force, then reconciles its keys and plans; the
/// line that says what happened.
pub(crate) async fn reload(reloading: Reloading<'_>) -> String {
    let Reloading {
        deployment,
        tokens,
        path,
        started,
    } = reloading;
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "config reload: the file did not load; nothing changed");
            return format!("config reload failed: {error}; nothing changed");
        }
    };
    for field in needing_restart(started, &config) {
        tracing::warn!(
            field,
            "config reload: this changed but takes a restart; it stays as the process started"
        );
    }
    // Whatever the stores say of the keys and plans: a token removed from the file must stop
    // working even when the file's `config_version` is refused.
    tokens.replace(config.admin_tokens.clone());
    match deployment.reconcile(&config).await {
        Ok(summary) => format!(
            "config reconciled: config_version {}, {} added, {} changed, {} revoked, {} plans changed, {} refused, {} admin tokens",
            summary.config_version,
            summary.added,
            summary.changed,
            summary.revoked,
            summary.plans_changed,
            summary.refused.len(),
            tokens.len()
        ),
        Err(error) if error.is_refusal() => format!("config refused: {error}"),
        Err(error) => format!("config reload failed: {error}"),
    }
}

/// The fields of `reloaded` that differ from `started` and that a reload does not apply.
pub(crate) fn needing_restart(started: &Config, reloaded: &Config) -> Vec<&'static str> {
    let fields = [
        ("environment", started.environment == reloaded.environment),
        ("[store]", started.store == reloaded.store),
        ("[server]", started.server == reloaded.server),
        ("[limits]", started.limits == reloaded.limits),
        ("[audit]", started.audit == reloaded.audit),
        ("[health]", started.health == reloaded.health),
        ("[[webhooks]]", started.webhooks == reloaded.webhooks),
        (
            "[webhooks_retry]",
            started.webhooks_retry == reloaded.webhooks_retry,
        ),
        ("[[quota.routes]]", started.quota == reloaded.quota),
        ("[upstream]", started.upstream == reloaded.upstream),
        ("[admin]", started.admin == reloaded.admin),
    ];
    fields
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| field)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fields_a_reload_does_not_apply_are_named() {
        let started = Config::from_toml("environment = \"development\"\n").unwrap();
        let keys_and_plans = Config::from_toml(
            "environment = \"development\"\nconfig_version = 4\n\
             [[projects]]\nid = \"p\"\nadds_per_month = 1\nqueries_per_month = 1\n",
        )
        .unwrap();
        assert!(needing_restart(&started, &keys_and_plans).is_empty());
        let listeners = Config::from_toml(
            "environment = \"production\"\n[server]\nmax_connections = 7\n[limits]\nrps_window = \"4s\"\n[health]\nper_ip_rps = 2\n",
        )
        .unwrap();
        assert_eq!(
            needing_restart(&started, &listeners),
            ["environment", "[server]", "[limits]", "[health]"]
        );
    }
}
