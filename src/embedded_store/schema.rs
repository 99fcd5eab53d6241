//! The database's tables and its schema version, with the migrations from older versions.
//!
//! A new database is written at [`SCHEMA_VERSION`]. An older one is migrated step by step, all
//! steps in one transaction, so a crash mid-upgrade leaves the old version whole. A newer one
//! is refused: an older binary does not guess at a layout it does not know.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use super::EmbeddedError;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u64 = 2;

/// `schema_version` and other single values.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Key records by id, as JSON ([`super::codec::StoredKey`]).
pub(super) const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
/// Key usage by id: request count, last use in unix milliseconds (`i64::MIN`: never).
pub(super) const USAGE: TableDefinition<&str, (u64, i64)> = TableDefinition::new("key_usage");
/// Tombstones by (kind, id): their expiry in unix milliseconds.
pub(super) const TOMBSTONES: TableDefinition<(&str, &str), i64> =
    TableDefinition::new("tombstones");
/// Quota ceilings by (project, operation, month `YYYY-MM`): units reserved on disk.
pub(super) const QUOTA: TableDefinition<(&str, &str, &str), u64> =
    TableDefinition::new("quota_ceilings");
/// Alert marks by (project, operation, month): bit `p` set once the `p` % alert fired.
pub(super) const ALERTS: TableDefinition<(&str, &str, &str), u128> =
    TableDefinition::new("alert_marks");
/// Webhook deliveries waiting or claimed, by arrival number, as JSON.
pub(super) const WEBHOOKS: TableDefinition<u64, &[u8]> = TableDefinition::new("webhook_queue");
/// Webhook dead letters, by arrival number, as JSON.
pub(super) const DEAD_LETTERS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("webhook_dead_letters");

/// The config file last reconciled with the store, under [`APPLIED_KEY`]: its `config_version`
/// (8 bytes, big-endian) then the SHA-256 digest of its keys and plans (32 bytes). A table that
/// a database of an older build lacks is created when it opens: no migration step.
pub(super) const CONFIG: TableDefinition<&str, &[u8]> = TableDefinition::new("config_applied");
/// Webhook endpoint records by id, as JSON
/// ([`EndpointRecord::to_json`](crate::webhook::endpoints::EndpointRecord::to_json)). A table a
/// database of an older build lacks is created when it opens.
pub(super) const ENDPOINTS: TableDefinition<&str, &str> = TableDefinition::new("webhook_endpoints");

/// Webhook delivery attempts by (time in unix milliseconds, sequence), as JSON
/// ([`AttemptRecord::to_json`](crate::webhook::attempt_log::AttemptRecord::to_json)), purged by
/// age. Created when a database of an older build opens.
pub(super) const ATTEMPTS: TableDefinition<(i64, u64), &str> =
    TableDefinition::new("webhook_attempts");

/// The one row of [`CONFIG`].
pub(super) const APPLIED_KEY: &str = "applied";

/// The plans the admin API manages, by project, as canonical JSON
/// ([`encode_plan`](crate::quota::encode_plan)). Created when a database of an older build
/// opens, like [`CONFIG`]: an empty table is what such a database holds.
pub(super) const PLANS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_plans");

/// The key of the schema version in [`META`].
pub(super) const VERSION_KEY: &str = "schema_version";

/// One upgrade step, from version `n` to `n + 1`.
type Migration = fn(&WriteTransaction) -> Result<(), redb::Error>;

/// `MIGRATIONS[n - 1]` takes a database from version `n` to `n + 1`.
const MIGRATIONS: [Migration; (SCHEMA_VERSION - 1) as usize] = [version_1_to_2];

/// Version 2 keeps version 1's layout: the step is the upgrade path's first, exercised by the
/// tests with a database they write at version 1.
fn version_1_to_2(_transaction: &WriteTransaction) -> Result<(), redb::Error> {
    Ok(())
}

/// Creates the tables of a new database, migrates an older one, refuses a newer one.
pub(super) fn prepare(db: &Database, file: &Path) -> Result<(), EmbeddedError> {
    let transaction = db.begin_write().map_err(EmbeddedError::database)?;
    let found = {
        let meta = transaction
            .open_table(META)
            .map_err(EmbeddedError::database)?;
        let found = meta.get(VERSION_KEY).map_err(EmbeddedError::database)?;
        found.map(|version| version.value())
    };
    match found {
        Some(found) if found > SCHEMA_VERSION => {
            return Err(EmbeddedError::NewerSchema {
                file: file.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Some(found) => {
            for step in found.max(1)..SCHEMA_VERSION {
                let index = usize::try_from(step - 1).unwrap_or(usize::MAX);
                let migrate = MIGRATIONS
                    .get(index)
                    .ok_or_else(|| EmbeddedError::Database(format!("no migration from {step}")))?;
                migrate(&transaction).map_err(EmbeddedError::database)?;
                tracing::info!(from = step, to = step + 1, "embedded store schema migrated");
            }
        }
        // A new database.
        None => {}
    }
    create_tables(&transaction).map_err(EmbeddedError::database)?;
    transaction
        .open_table(META)
        .map_err(EmbeddedError::database)?
        .insert(VERSION_KEY, SCHEMA_VERSION)
        .map_err(EmbeddedError::database)?;
    transaction.commit().map_err(EmbeddedError::database)
}

/// Opening a table in a write transaction creates it.
pub(super) fn create_tables(transaction: &WriteTransaction) -> Result<(), redb::Error> {
    transaction.open_table(META)?;
    transaction.open_table(KEYS)?;
    transaction.open_table(USAGE)?;
    transaction.open_table(TOMBSTONES)?;
    transaction.open_table(QUOTA)?;
    transaction.open_table(ALERTS)?;
    transaction.open_table(WEBHOOKS)?;
    transaction.open_table(DEAD_LETTERS)?;
    transaction.open_table(CONFIG)?;
    transaction.open_table(PLANS)?;
    transaction.open_table(ENDPOINTS)?;
    transaction.open_table(ATTEMPTS)?;
    Ok(())
}
