//! `memorysync store`: the state behind the stages, beside the running servers: reseed a Redis
//! that lost its data; back up and restore the embedded store.

#[cfg(feature = "embedded")]
pub(crate) mod backup;
mod reseed;
#[cfg(feature = "embedded")]
mod restore;

/// The store's subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StoreCommand {
    /// Writes back what the config file owns into a Redis that lost its data (its keys, with
    /// the revocations and tombstones the file gives), then a new epoch that the running
    /// servers adopt by themselves.
    Reseed(reseed::ReseedArgs),
    /// Copies a consistent snapshot of the embedded store to a file, while a server runs on it
    /// (the server makes the copy) or not.
    #[cfg(feature = "embedded")]
    Backup(backup::BackupArgs),
    /// Replaces the embedded store with a backup, keeping every tombstone and revocation of the
    /// current store; the server must be stopped.
    #[cfg(feature = "embedded")]
    Restore(restore::RestoreArgs),
}

/// Runs one subcommand.
pub(crate) fn run(command: StoreCommand) -> Result<(), String> {
    match command {
        StoreCommand::Reseed(args) => reseed::run(args),
        #[cfg(feature = "embedded")]
        StoreCommand::Backup(args) => backup::run(&args),
        #[cfg(feature = "embedded")]
        StoreCommand::Restore(args) => restore::run(&args),
    }
}
