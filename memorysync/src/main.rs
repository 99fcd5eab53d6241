//! `memorysync`: the MemorySync request pipeline as a server (`serve`, with the demo memory API
//! or in front of any HTTP service with `--upstream`), the operator's offline tools, and the
//! admin API's CLI (`keys`, `projects`, `webhooks`, `audit query|verify-remote`).
//!
//! Secrets never travel as arguments: the server reads them from files and environment
//! variables, the admin CLI reads its token from an environment variable, and the tools that
//! make one print it once, on standard output.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin_cli;
mod admin_token;
mod audit;
mod demo;
mod https;
mod keygen;
mod preflight;
mod proxy;
mod serve;
mod store;
/// The Redis Cluster harness of the workspace's tests.
#[cfg(all(test, feature = "redis"))]
#[path = "../../tests/common/redis_cluster.rs"]
mod test_cluster;
/// The Redis harness of the workspace's tests, shared by this binary's unit tests.
#[cfg(test)]
#[path = "../../tests/common/redis.rs"]
mod test_redis;
mod webhook_secret;

#[derive(Debug, Parser)]
#[command(name = "memorysync", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the demo memory API behind the pipeline, until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Prints a new `whsec_` webhook secret.
    WebhookSecret(webhook_secret::WebhookSecretArgs),
    /// Prints a new API key, then the `[[keys]]` entry that stores its hash.
    Keygen(keygen::KeygenArgs),
    /// Prints a new `msa_` admin token, then the `[[admin_tokens]]` entry that stores its hash.
    AdminToken(admin_token::AdminTokenArgs),
    /// Walks the production checklist over a config file.
    Preflight(preflight::PreflightArgs),
    /// API keys, through a running server's admin API (--admin-url, token in --token-env).
    Keys(admin_cli::keys::KeysArgs),
    /// Projects' plans and this month's use, through the admin API.
    Projects(admin_cli::projects::ProjectsArgs),
    /// Webhook endpoints, delivery attempts and dead letters, through the admin API.
    Webhooks(admin_cli::webhooks::WebhooksArgs),
    /// The audit log: checked offline, or read and checked through the admin API.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The state behind the stages: reseed a Redis that lost its data; back up and restore
    /// the embedded store.
    #[command(subcommand)]
    Store(store::StoreCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ran = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::WebhookSecret(args) => webhook_secret::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::AdminToken(args) => admin_token::run(args),
        Command::Store(command) => store::run(command),
        // Exit codes of their own: 1 for a failed item or a broken chain, 2 for an error.
        Command::Preflight(args) => return preflight::run(args),
        Command::Audit(command) => return audit::run(command),
        // 1 when the admin API answered a problem or could not be reached, 2 for a bad value.
        Command::Keys(args) => return admin_cli::keys::run(args),
        Command::Projects(args) => return admin_cli::projects::run(args),
        Command::Webhooks(args) => return admin_cli::webhooks::run(args),
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memorysync: {message}");
            ExitCode::FAILURE
        }
    }
}
