//! `memorysync preflight`: walks the production checklist (DESIGN section 11) over a config
//! file.
//!
//! Prints one line per item, always the same items in the same order:
//! `pass <item>`, `pass <item> (skipped: <why>)` or `fail <item>: <why>`. Exits 0 when every
//! item passes, 1 when any fails, 2 on bad arguments. `--min-retention-days` is the compliance
//! minimum for audit retention and tombstones (default 90). `--url` is a running instance
//! (plain `http://`) whose `GET /health` must answer `{"status":"ok"}`. No line ever shows a
//! secret: plaintext keys and webhook secrets are reported by line number or variable name.
//! On Redis, `redis-appendonly` and `redis-noeviction` ask the server (`CONFIG GET`) whether it
//! keeps what it holds across a restart and when full; they are skipped, saying why, where
//! `CONFIG` is not allowed; on a Redis Cluster they ask every master, and `redis-cluster`
//! checks that every slot is served, `cluster_state` is `ok` and every master has a live
//! replica.

mod checks;
mod cluster;
mod durability;
#[cfg(test)]
mod durability_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod probe_tests;
mod probes;
#[cfg(test)]
mod tests;

use std::env::VarError;
use std::path::PathBuf;
use std::process::ExitCode;

use checks::{Item, Outcome};
use memorysync_pipeline::config::Config;

/// The reason of every item that needs a loaded config when it did not load.
const NOT_LOADED: &str = "not checked: the config did not load";

/// Walks the production checklist over a config file: one `pass` or `fail` line per item; exits
/// 1 if any item fails.
#[derive(Debug, clap::Args)]
pub(crate) struct PreflightArgs {
    /// The config file to check.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: PathBuf,
    /// A running instance (`http://host:port`) whose `GET /health` must answer
    /// `{"status":"ok"}`; absent, that item is skipped.
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,
    /// The compliance minimum, in days, for audit retention and the tombstone period.
    #[arg(long, value_name = "N", default_value_t = checks::MIN_RETENTION_DAYS)]
    pub(crate) min_retention_days: u64,
}

/// Runs the checklist on a runtime of its own and prints the report.
pub(crate) fn run(args: PreflightArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("memorysync: preflight: cannot start a runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let items = runtime.block_on(preflight(&args, &|name| std::env::var(name)));
    for item in &items {
        println!("{item}");
    }
    ExitCode::from(exit_code(&items))
}

/// 0 when every item passed (skipped counts as passed), 1 otherwise.
pub(crate) fn exit_code(items: &[Item]) -> u8 {
    let failed = items.iter().any(|i| matches!(i.outcome, Outcome::Fail(_)));
    u8::from(failed)
}

/// Every item, in a fixed order; `lookup` reads the environment (webhook secrets).
pub(crate) async fn preflight(
    args: &PreflightArgs,
    lookup: &dyn Fn(&str) -> Result<String, VarError>,
) -> Vec<Item> {
    // Read twice: once raw for the plaintext scan (which must work on a file the loader
    // refuses), once through the loader for its own error with file and line.
    let text = std::fs::read_to_string(&args.config);
    let loaded = Config::load(&args.config);
    let on_config = |check: &dyn Fn(&Config) -> Outcome| match &loaded {
        Ok(config) => check(config),
        Err(_) => Outcome::Fail(NOT_LOADED.to_owned()),
    };
    let item = |name, outcome| Item { name, outcome };
    let mut items = vec![
        item(
            "config-loads",
            match &loaded {
                Ok(_) => Outcome::Pass,
                Err(error) => Outcome::Fail(error.to_string()),
            },
        ),
        item(
            "production-environment",
            on_config(&checks::production_environment),
        ),
        item("keys-hashed-one-project", on_config(&checks::keys_hashed)),
        item(
            "no-development-keys",
            on_config(&checks::no_development_keys),
        ),
        item("key-rate-limits", on_config(&checks::key_rate_limits)),
        item(
            "no-plaintext-secrets",
            match &text {
                Ok(text) => checks::no_plaintext_secrets(text),
                Err(error) => Outcome::Fail(format!("not checked: cannot read the file: {error}")),
            },
        ),
        item("webhooks-https", on_config(&checks::webhooks_https)),
        item(
            "webhook-secrets",
            on_config(&|c| checks::webhook_secrets(c, lookup)),
        ),
        item("usage-alerts", on_config(&checks::usage_alerts)),
        item(
            "audit-retention",
            on_config(&|c| checks::audit_retention(c, args.min_retention_days)),
        ),
        item(
            "audit-not-in-memory",
            on_config(&checks::audit_not_in_memory),
        ),
        item("durable-state", on_config(&checks::durable_state)),
    ];
    let redis = match &loaded {
        Ok(config) => probes::redis_reachable(&config.store, probes::REDIS_TIMEOUT).await,
        Err(_) => Outcome::Fail(NOT_LOADED.to_owned()),
    };
    items.push(Item {
        name: "redis-reachable",
        outcome: redis,
    });
    let cluster = match &loaded {
        Ok(config) => probes::redis_cluster(&config.store, probes::REDIS_TIMEOUT).await,
        Err(_) => Outcome::Fail(NOT_LOADED.to_owned()),
    };
    items.push(Item {
        name: "redis-cluster",
        outcome: cluster,
    });
    let durability = match &loaded {
        Ok(config) => durability::redis_durability(&config.store, probes::REDIS_TIMEOUT).await,
        Err(_) => durability::Durability {
            appendonly: Outcome::Fail(NOT_LOADED.to_owned()),
            noeviction: Outcome::Fail(NOT_LOADED.to_owned()),
        },
    };
    items.push(Item {
        name: "redis-appendonly",
        outcome: durability.appendonly,
    });
    items.push(Item {
        name: "redis-noeviction",
        outcome: durability.noeviction,
    });
    items.push(Item {
        name: "health-ok",
        outcome: probes::health_ok(args.url.as_deref(), probes::HEALTH_TIMEOUT).await,
    });
    items
}
