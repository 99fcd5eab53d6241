//! `memorysync store restore --config FILE --from PATH`: the embedded store replaced by a
//! backup, offline. Every tombstone and revocation of the current store is kept (a key revoked
//! after the backup stays refused), and quota counters, alert marks and usage never go back.

use std::path::PathBuf;

use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::embedded_store::{EmbeddedError, restore};

/// The arguments of `memorysync store restore`.
#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    /// The config whose `[store]` names the embedded store.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The backup file (written by `memorysync store backup`).
    #[arg(long, value_name = "PATH")]
    from: PathBuf,
}

pub(crate) fn run(args: &RestoreArgs) -> Result<(), String> {
    let dir = super::backup::store_dir(&args.config)?;
    if !args.from.is_file() {
        return Err(format!("--from {}: no such file", args.from.display()));
    }
    let report = restore(&dir, &args.from, SystemClock.now()).map_err(|error| match error {
        EmbeddedError::InUse { .. } => {
            format!("{error}\n(a restore is offline: stop the server first)")
        }
        other => other.to_string(),
    })?;
    println!(
        "restored {} from {}: {} keys, {} of them revoked by the current store; {} tombstones kept",
        dir.display(),
        args.from.display(),
        report.keys,
        report.revoked,
        report.tombstones_kept
    );
    if let Some(previous) = report.previous {
        println!("the replaced database is kept as {}", previous.display());
    }
    Ok(())
}
