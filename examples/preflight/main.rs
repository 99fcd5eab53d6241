//! Walks the production checklist (DESIGN section 11) over a config file.
//!
//! ```text
//! cargo run --example preflight -- --config FILE [--url URL] [--min-retention-days N]
//! ```
//! Prints one line per item, always the same items in the same order:
//! `pass <item>`, `pass <item> (skipped: <why>)` or `fail <item>: <why>`. Exits 0 when every
//! item passes, 1 when any fails, 2 on bad arguments. `--min-retention-days` is the compliance
//! minimum for audit retention and tombstones (default 90). `--url` is a running instance
//! (plain `http://`) whose `GET /health` must answer `{"status":"ok"}`. No line ever shows a
//! secret: plaintext keys and webhook secrets are reported by line number or variable name.

mod checks;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod probe_tests;
mod probes;
#[cfg(test)]
mod tests;

use std::env::VarError;
use std::path::PathBuf;

use checks::{Item, Outcome};
use memorysync_pipeline::config::Config;

const USAGE: &str =
    "usage: preflight --config FILE [--url URL] [--min-retention-days N (default 90)]";

/// The reason of every item that needs a loaded config when it did not load.
const NOT_LOADED: &str = "not checked: the config did not load";

#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) config: PathBuf,
    pub(crate) url: Option<String>,
    pub(crate) min_retention_days: u64,
}

impl Args {
    pub(crate) fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
        let (mut config, mut url, mut min_retention_days) =
            (None, None, checks::MIN_RETENTION_DAYS);
        while let Some(word) = words.next() {
            let mut value = || {
                words
                    .next()
                    .ok_or_else(|| format!("{word} needs a value\n{USAGE}"))
            };
            match word.as_str() {
                "--config" => config = Some(PathBuf::from(value()?)),
                "--url" => url = Some(value()?),
                "--min-retention-days" => {
                    let text = value()?;
                    min_retention_days = text.parse().map_err(|_| {
                        format!("--min-retention-days: not a number of days: {text}")
                    })?;
                }
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let config = config.ok_or(USAGE)?;
        Ok(Args {
            config,
            url,
            min_retention_days,
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("preflight: {message}");
            std::process::exit(2);
        }
    };
    let items = preflight(&args, &|name| std::env::var(name)).await;
    for item in &items {
        println!("{item}");
    }
    std::process::exit(exit_code(&items));
}

/// 0 when every item passed (skipped counts as passed), 1 otherwise.
pub(crate) fn exit_code(items: &[Item]) -> i32 {
    let failed = items.iter().any(|i| matches!(i.outcome, Outcome::Fail(_)));
    i32::from(failed)
}

/// Every item, in a fixed order; `lookup` reads the environment (webhook secrets).
pub(crate) async fn preflight(
    args: &Args,
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
    ];
    let redis = match &loaded {
        Ok(config) => probes::redis_reachable(&config.store, probes::REDIS_TIMEOUT).await,
        Err(_) => Outcome::Fail(NOT_LOADED.to_owned()),
    };
    items.push(Item {
        name: "redis-reachable",
        outcome: redis,
    });
    items.push(Item {
        name: "health-ok",
        outcome: probes::health_ok(args.url.as_deref(), probes::HEALTH_TIMEOUT).await,
    });
    items
}
