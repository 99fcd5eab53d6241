//! `memorysync store ...`: the durable store, from outside the server.

#[cfg(feature = "embedded")]
pub(crate) mod backup;
#[cfg(feature = "embedded")]
mod restore;

/// The store's subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StoreCommand {
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
        #[cfg(feature = "embedded")]
        StoreCommand::Backup(args) => backup::run(&args),
        #[cfg(feature = "embedded")]
        StoreCommand::Restore(args) => restore::run(&args),
    }
}
