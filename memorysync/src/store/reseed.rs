//! `memorysync store reseed --config FILE`: after Redis lost its data (flushed, restarted
//! without persistence, replaced by an empty replica), the config's keys written back and a new
//! epoch marker, through [`memorysync_pipeline::deployment::reseed`]. Running servers answer
//! `data_lost` on `/health` until then and adopt the new epoch within a second after.

use std::path::PathBuf;

use memorysync_pipeline::config::Config;

/// Writes back the config's keys and a new epoch into the Redis `[store]` names.
#[derive(Debug, clap::Args)]
pub(crate) struct ReseedArgs {
    /// The config file the servers run with: its `[store]` names the Redis, its `[[keys]]` are
    /// written back.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: PathBuf,
}

pub(crate) fn run(args: ReseedArgs) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|error| format!("store reseed: {error}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("store reseed: cannot start a runtime: {error}"))?;
    let report = runtime.block_on(reseed(&config))?;
    print!("{report}");
    Ok(())
}

#[cfg(feature = "redis")]
async fn reseed(config: &Config) -> Result<String, String> {
    let reseeded = memorysync_pipeline::deployment::reseed(config)
        .await
        .map_err(|error| format!("store reseed: {error}"))?;
    Ok(report::of(&reseeded))
}

/// Built without Redis, there is no Redis store to reseed.
#[cfg(not(feature = "redis"))]
async fn reseed(_config: &Config) -> Result<String, String> {
    Err("store reseed: this memorysync was built without the redis feature".to_owned())
}

#[cfg(feature = "redis")]
mod report {
    use std::fmt::Write as _;

    use memorysync_pipeline::deployment::Reseeded;
    use memorysync_pipeline::redis_store::EpochOrigin;

    /// What a reseed cannot bring back, printed after every reseed so that nobody expects it.
    const NOT_RESTORED: &str = "not restored (only Redis held them): keys created through the \
         admin API, this month's quota counters and alert marks, key usage, the webhook queue \
         and its dead letters, rate-limit windows, the audit stream";

    /// The lines `store reseed` prints: the new epoch, what it replaced, the keys, and what
    /// stays lost.
    pub(super) fn of(reseeded: &Reseeded) -> String {
        let mut out = String::new();
        let epoch = &reseeded.epoch;
        let _ = writeln!(
            out,
            "reseeded: epoch {} at {}; running servers adopt it within a second",
            epoch.id(),
            epoch.seeded_at()
        );
        let before = match (&reseeded.before.epoch, reseeded.before.loss_reported_at) {
            (_, Some(at)) => format!("a data loss reported at {at}"),
            (None, None) => "no epoch marker".to_owned(),
            (Some(old), None) => {
                let origin = match old.origin() {
                    EpochOrigin::FirstStart => "a first start",
                    EpochOrigin::Reseed => "a reseed",
                };
                format!("epoch {} of {origin} at {}", old.id(), old.seeded_at())
            }
        };
        let _ = writeln!(out, "before: {before}");
        let _ = writeln!(
            out,
            "keys (config_version {}): {} written back, {} replaced, {} revoked, {} refused",
            reseeded.config_version,
            reseeded.added,
            reseeded.changed,
            reseeded.revoked,
            reseeded.refused.len()
        );
        for refused in &reseeded.refused {
            let _ = writeln!(
                out,
                "refused {} {}: {}",
                refused.kind, refused.id, refused.reason
            );
        }
        let _ = writeln!(out, "{NOT_RESTORED}");
        out
    }
}
