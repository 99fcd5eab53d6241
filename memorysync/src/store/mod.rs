//! `memorysync store`: the state behind the stages, beside the running servers.

mod reseed;

/// The store's subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StoreCommand {
    /// Writes back what the config file owns into a Redis that lost its data (its keys, with
    /// the revocations and tombstones the file gives), then a new epoch that the running
    /// servers adopt by themselves.
    Reseed(reseed::ReseedArgs),
}

pub(crate) fn run(command: StoreCommand) -> Result<(), String> {
    match command {
        StoreCommand::Reseed(args) => reseed::run(args),
    }
}
