//! Who manages a record: the config file or the admin API (section 4 of the design).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who manages a record (an API key, a project's plan).
///
/// Reconciling the config file with the stores adds, changes and removes only the records the
/// file owns; the admin API changes only the records it owns, except revocation, which works on
/// any key. Records read from the file are [`RecordOwner::Config`]; records made in code (e.g.
/// [`KeyRecord::new`](crate::key::KeyRecord::new)) are [`RecordOwner::Api`], so that a
/// reconciliation never revokes a key an application created because the file does not name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordOwner {
    /// The config file: reconciliation adds, updates and removes it.
    Config,
    /// The admin API (or the application's own code): reconciliation never touches it.
    #[default]
    Api,
}

impl RecordOwner {
    /// `config` or `api`, as stored and as the admin API shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordOwner::Config => "config",
            RecordOwner::Api => "api",
        }
    }
}

impl fmt::Display for RecordOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
