//! `memorysync`: the MemorySync request pipeline as a server (`serve`, with the demo memory API
//! or in front of any HTTP service with `--upstream`), and the operator's offline tools.
//!
//! Secrets never travel as arguments: the server reads them from files and environment
//! variables, and the tools that make one print it once, on standard output.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod proxy;
mod webhook_secret;

#[derive(Debug, Parser)]
#[command(name = "memorysync", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints a new `whsec_` webhook secret.
    WebhookSecret(webhook_secret::WebhookSecretArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ran = match cli.command {
        Command::WebhookSecret(args) => webhook_secret::run(args),
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memorysync: {message}");
            ExitCode::FAILURE
        }
    }
}
