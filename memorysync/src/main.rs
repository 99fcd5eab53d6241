//! `memorysync`: the MemorySync request pipeline as a server (`serve`, with the demo memory API
//! or in front of any HTTP service with `--upstream`), and the operator's offline tools.
//!
//! Secrets never travel as arguments: the server reads them from files and environment
//! variables, and the tools that make one print it once, on standard output.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin_token;
mod audit;
mod demo;
mod keygen;
mod preflight;
mod proxy;
mod serve;
mod store;
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
    /// The audit log, offline.
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
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memorysync: {message}");
            ExitCode::FAILURE
        }
    }
}
