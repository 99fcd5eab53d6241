//! Backups and restores of the embedded database.
//!
//! A backup is a copy of one read transaction (a consistent snapshot between two commits),
//! written to a new database file by the process that holds the store: the writer thread makes
//! it between two of its commits, so the server keeps serving. A restore is offline (the
//! store's lock is taken, so no server runs on it) and merges the current store into the copy
//! before it replaces the database: every tombstone of the current store is kept, a key whose
//! id or hash is tombstoned comes back revoked, a key revoked since the backup stays revoked,
//! quota counters, alert marks and usage never go back (a restore does not hand back units a
//! customer spent), and no waiting webhook message or dead letter of the current store is lost.
//! The plans the admin API manages are the backup's: a plan is configuration, and a restore
//! goes back to the configuration of its time.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use super::codec::{decode_key, encode_key};
use super::lock::DirLock;
use super::schema::{
    self, ALERTS, APPLIED_KEY, ATTEMPTS, CONFIG, DEAD_LETTERS, ENDPOINTS, KEYS, META, PLANS, QUOTA,
    TOMBSTONES, USAGE, WEBHOOKS,
};
use super::{DATABASE_FILE, EmbeddedError};
use crate::clock::Timestamp;
use crate::key::KeyRecord;

/// Copies a snapshot of `db` to a new database at `to` (written beside it, then renamed).
pub(super) fn snapshot(db: &Database, to: &Path) -> Result<(), EmbeddedError> {
    let partial = partial_path(to);
    match fs::remove_file(&partial) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(EmbeddedError::io(&partial, error)),
    }
    {
        let copy = Database::create(&partial).map_err(EmbeddedError::database)?;
        let read = db.begin_read().map_err(EmbeddedError::database)?;
        let write = copy.begin_write().map_err(EmbeddedError::database)?;
        copy_all(&read, &write).map_err(EmbeddedError::database)?;
        write.commit().map_err(EmbeddedError::database)?;
    }
    fs::rename(&partial, to).map_err(|e| EmbeddedError::io(to, e))
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn copy_all(read: &ReadTransaction, write: &WriteTransaction) -> Result<(), redb::Error> {
    copy_table(read, write, META)?;
    copy_table(read, write, KEYS)?;
    copy_table(read, write, USAGE)?;
    copy_table(read, write, TOMBSTONES)?;
    copy_table(read, write, QUOTA)?;
    copy_table(read, write, ALERTS)?;
    copy_table(read, write, WEBHOOKS)?;
    copy_table(read, write, DEAD_LETTERS)?;
    copy_table(read, write, CONFIG)?;
    copy_table(read, write, PLANS)?;
    copy_table(read, write, ENDPOINTS)?;
    copy_table(read, write, ATTEMPTS)
}

fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    read: &ReadTransaction,
    write: &WriteTransaction,
    definition: TableDefinition<K, V>,
) -> Result<(), redb::Error> {
    let source = match read.open_table(definition) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let mut target = write.open_table(definition)?;
    for row in source.iter()? {
        let (key, value) = row?;
        target.insert(key.value(), value.value())?;
    }
    Ok(())
}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreReport {
    /// Key records in the restored database.
    pub keys: usize,
    /// Tombstones of the current store carried over.
    pub tombstones_kept: usize,
    /// Keys of the backup that come back revoked: revoked since, or tombstoned.
    pub revoked: usize,
    /// Where the database that was replaced is kept, if there was one.
    pub previous: Option<PathBuf>,
}

/// What of the current store a restore keeps.
#[derive(Default)]
struct Current {
    tombstones: HashMap<(String, String), i64>,
    revoked: HashMap<String, KeyRecord>,
    ceilings: HashMap<(String, String, String), u64>,
    alerts: HashMap<(String, String, String), u128>,
    usage: HashMap<String, (u64, i64)>,
    /// Webhook messages waiting and dead letters, as stored.
    webhooks: Vec<Vec<u8>>,
    dead_letters: Vec<Vec<u8>>,
    /// The config file last reconciled, as stored.
    applied: Option<Vec<u8>>,
    /// Webhook endpoint records by id, as stored.
    endpoints: Vec<(String, String)>,
}

/// Replaces the database under `dir` with the backup at `from`, keeping what the current
/// store must not lose. Offline: refused while a process holds the store.
pub fn restore(dir: &Path, from: &Path, now: Timestamp) -> Result<RestoreReport, EmbeddedError> {
    let _lock = DirLock::take(dir)?;
    let database = dir.join(DATABASE_FILE);
    // Kept open until the merge: the attempt log is copied table to table, not through memory.
    let current_db = if database.exists() {
        let db = Database::create(&database).map_err(EmbeddedError::database)?;
        schema::prepare(&db, &database)?;
        Some(db)
    } else {
        None
    };
    let current = match &current_db {
        Some(db) => read_current(db).map_err(EmbeddedError::database)?,
        None => Current::default(),
    };
    let staging = dir.join(format!("{DATABASE_FILE}.restoring"));
    fs::copy(from, &staging).map_err(|e| EmbeddedError::io(from, e))?;
    let mut report = {
        let db = Database::create(&staging).map_err(EmbeddedError::database)?;
        schema::prepare(&db, from)?;
        let write = db.begin_write().map_err(EmbeddedError::database)?;
        let report = merge(&write, &current, now)?;
        // Every attempt of the current store: the backup's are the same rows, or older ones.
        if let Some(current_db) = &current_db {
            let read = current_db.begin_read().map_err(EmbeddedError::database)?;
            copy_table(&read, &write, ATTEMPTS).map_err(EmbeddedError::database)?;
        }
        write.commit().map_err(EmbeddedError::database)?;
        report
    };
    drop(current_db);
    if database.exists() {
        let previous = dir.join(format!(
            "{DATABASE_FILE}.before-restore-{}",
            now.unix_millis()
        ));
        fs::rename(&database, &previous).map_err(|e| EmbeddedError::io(&database, e))?;
        report.previous = Some(previous);
    }
    fs::rename(&staging, &database).map_err(|e| EmbeddedError::io(&database, e))?;
    Ok(report)
}

fn read_current(db: &Database) -> Result<Current, redb::Error> {
    let read = db.begin_read()?;
    let mut current = Current::default();
    for row in read.open_table(TOMBSTONES)?.iter()? {
        let (key, expires) = row?;
        let (kind, id) = key.value();
        current
            .tombstones
            .insert((kind.to_owned(), id.to_owned()), expires.value());
    }
    for row in read.open_table(KEYS)?.iter()? {
        let (_, bytes) = row?;
        if let Ok(record) = decode_key(bytes.value())
            && record.revoked_at.is_some()
        {
            current.revoked.insert(record.id.to_string(), record);
        }
    }
    for row in read.open_table(QUOTA)?.iter()? {
        let (key, ceiling) = row?;
        let (project, operation, month) = key.value();
        let key = (project.to_owned(), operation.to_owned(), month.to_owned());
        current.ceilings.insert(key, ceiling.value());
    }
    for row in read.open_table(ALERTS)?.iter()? {
        let (key, bits) = row?;
        let (project, operation, month) = key.value();
        let key = (project.to_owned(), operation.to_owned(), month.to_owned());
        current.alerts.insert(key, bits.value());
    }
    for row in read.open_table(USAGE)?.iter()? {
        let (id, usage) = row?;
        current.usage.insert(id.value().to_owned(), usage.value());
    }
    for row in read.open_table(WEBHOOKS)?.iter()? {
        current.webhooks.push(row?.1.value().to_vec());
    }
    for row in read.open_table(DEAD_LETTERS)?.iter()? {
        current.dead_letters.push(row?.1.value().to_vec());
    }
    // A database of an older build may lack the table.
    if let Ok(config) = read.open_table(CONFIG) {
        current.applied = config.get(APPLIED_KEY)?.map(|row| row.value().to_vec());
    }
    if let Ok(endpoints) = read.open_table(ENDPOINTS) {
        for row in endpoints.iter()? {
            let (id, json) = row?;
            let row = (id.value().to_owned(), json.value().to_owned());
            current.endpoints.push(row);
        }
    }
    Ok(current)
}

fn merge(
    write: &WriteTransaction,
    current: &Current,
    now: Timestamp,
) -> Result<RestoreReport, EmbeddedError> {
    let mut report = RestoreReport::default();
    {
        let mut tombstones = write
            .open_table(TOMBSTONES)
            .map_err(EmbeddedError::database)?;
        for ((kind, id), expires) in &current.tombstones {
            let key = (kind.as_str(), id.as_str());
            let stored = tombstones
                .get(key)
                .map_err(EmbeddedError::database)?
                .map(|v| v.value());
            tombstones
                .insert(key, stored.map_or(*expires, |s| s.max(*expires)))
                .map_err(EmbeddedError::database)?;
            report.tombstones_kept += 1;
        }
    }
    let standing = |kind: &str, id: &str| {
        current
            .tombstones
            .get(&(kind.to_owned(), id.to_owned()))
            .is_some_and(|expires| *expires > now.unix_millis())
    };
    {
        let mut keys = write.open_table(KEYS).map_err(EmbeddedError::database)?;
        let mut records = Vec::new();
        for row in keys.iter().map_err(EmbeddedError::database)? {
            let (_, bytes) = row.map_err(EmbeddedError::database)?;
            records.push(decode_key(bytes.value())?);
        }
        let restored: std::collections::HashSet<String> =
            records.iter().map(|r| r.id.to_string()).collect();
        for mut record in records {
            let revoked_since = current.revoked.get(&*record.id).and_then(|r| r.revoked_at);
            let tombstoned =
                standing("key_id", &record.id) || standing("key_hash", &record.sha256.to_hex());
            let revoked_at = match (record.revoked_at, revoked_since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let revoked_at = revoked_at.or(tombstoned.then_some(now));
            if revoked_at != record.revoked_at {
                record.revoked_at = revoked_at;
                keys.insert(&*record.id, encode_key(&record).as_slice())
                    .map_err(EmbeddedError::database)?;
                report.revoked += 1;
            }
            report.keys += 1;
        }
        // A key added after the backup and revoked since: back as revoked, so it is refused as
        // revoked rather than unknown.
        for (id, record) in &current.revoked {
            if !restored.contains(id) {
                keys.insert(id.as_str(), encode_key(record).as_slice())
                    .map_err(EmbeddedError::database)?;
                report.keys += 1;
                report.revoked += 1;
            }
        }
    }
    {
        let mut quota = write.open_table(QUOTA).map_err(EmbeddedError::database)?;
        for ((project, operation, month), ceiling) in &current.ceilings {
            let key = (project.as_str(), operation.as_str(), month.as_str());
            let stored = quota
                .get(key)
                .map_err(EmbeddedError::database)?
                .map_or(0, |v| v.value());
            quota
                .insert(key, stored.max(*ceiling))
                .map_err(EmbeddedError::database)?;
        }
        let mut alerts = write.open_table(ALERTS).map_err(EmbeddedError::database)?;
        for ((project, operation, month), bits) in &current.alerts {
            let key = (project.as_str(), operation.as_str(), month.as_str());
            let stored = alerts
                .get(key)
                .map_err(EmbeddedError::database)?
                .map_or(0, |v| v.value());
            alerts
                .insert(key, stored | bits)
                .map_err(EmbeddedError::database)?;
        }
        let mut usage = write.open_table(USAGE).map_err(EmbeddedError::database)?;
        for (id, (count, last)) in &current.usage {
            let stored = usage
                .get(id.as_str())
                .map_err(EmbeddedError::database)?
                .map(|v| v.value());
            let merged = stored.map_or((*count, *last), |(c, l)| (c.max(*count), l.max(*last)));
            usage
                .insert(id.as_str(), merged)
                .map_err(EmbeddedError::database)?;
        }
    }
    merge_queue(write, current)?;
    merge_applied(write, current)?;
    merge_endpoints(write, current)?;
    Ok(report)
}

/// Keeps every webhook endpoint record of the current store, over the backup's of the same
/// id: endpoints are the operator's latest settings (a 410's disabled state included), not
/// data a backup brings back. The backup's other endpoints stay.
fn merge_endpoints(write: &WriteTransaction, current: &Current) -> Result<(), EmbeddedError> {
    let mut endpoints = write
        .open_table(ENDPOINTS)
        .map_err(EmbeddedError::database)?;
    for (id, json) in &current.endpoints {
        endpoints
            .insert(id.as_str(), json.as_str())
            .map_err(EmbeddedError::database)?;
    }
    Ok(())
}

/// Keeps the current store's config version when it is newer than the backup's: a file older
/// than one already applied stays refused after a restore.
fn merge_applied(write: &WriteTransaction, current: &Current) -> Result<(), EmbeddedError> {
    use super::codec::decode_applied;
    let Some(current) = current.applied.as_deref() else {
        return Ok(());
    };
    let mut config = write.open_table(CONFIG).map_err(EmbeddedError::database)?;
    let restored = config
        .get(APPLIED_KEY)
        .map_err(EmbeddedError::database)?
        .and_then(|row| decode_applied(row.value()));
    let newer = match (decode_applied(current), restored) {
        (Some(current), Some(restored)) => current.version > restored.version,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if newer {
        config
            .insert(APPLIED_KEY, current)
            .map_err(EmbeddedError::database)?;
    }
    Ok(())
}

/// Keeps every waiting message and dead letter of the current store that the backup lacks
/// (by message id and endpoint), under new row numbers: a restore loses no message, and one
/// delivered since the backup may be delivered again (receivers drop duplicates by id).
fn merge_queue(write: &WriteTransaction, current: &Current) -> Result<(), EmbeddedError> {
    use super::codec::{decode_dead_letter, decode_delivery};
    let mut webhooks = write
        .open_table(WEBHOOKS)
        .map_err(EmbeddedError::database)?;
    let mut dead = write
        .open_table(DEAD_LETTERS)
        .map_err(EmbeddedError::database)?;
    let mut known = std::collections::HashSet::new();
    let mut next = 0u64;
    for row in webhooks.iter().map_err(EmbeddedError::database)? {
        let (seq, bytes) = row.map_err(EmbeddedError::database)?;
        let delivery = decode_delivery(bytes.value())?;
        known.insert(("w", delivery.id.to_string(), delivery.target().to_string()));
        next = next.max(seq.value());
    }
    for row in dead.iter().map_err(EmbeddedError::database)? {
        let (seq, bytes) = row.map_err(EmbeddedError::database)?;
        let letter = decode_dead_letter(bytes.value())?;
        known.insert((
            "d",
            letter.delivery.id.to_string(),
            letter.delivery.target().to_string(),
        ));
        next = next.max(seq.value());
    }
    for bytes in &current.webhooks {
        let delivery = decode_delivery(bytes)?;
        if known.insert(("w", delivery.id.to_string(), delivery.target().to_string())) {
            next += 1;
            webhooks
                .insert(next, bytes.as_slice())
                .map_err(EmbeddedError::database)?;
        }
    }
    for bytes in &current.dead_letters {
        let letter = decode_dead_letter(bytes)?;
        if known.insert((
            "d",
            letter.delivery.id.to_string(),
            letter.delivery.target().to_string(),
        )) {
            next += 1;
            dead.insert(next, bytes.as_slice())
                .map_err(EmbeddedError::database)?;
        }
    }
    Ok(())
}
