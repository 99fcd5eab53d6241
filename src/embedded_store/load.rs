//! Reading the database into memory when the store opens.

use std::collections::HashMap;
use std::sync::Arc;

use dashmap::DashMap;
use redb::{Database, ReadableDatabase, ReadableTable};

use super::EmbeddedError;
use super::block::QuotaCell;
use super::codec::{
    NEVER_USED, decode_applied, decode_dead_letter, decode_delivery, decode_key, parse_month,
    parse_operation,
};
use super::schema::{
    ALERTS, APPLIED_KEY, ATTEMPTS, CONFIG, DEAD_LETTERS, ENDPOINTS, KEYS, PLANS, QUOTA, TOMBSTONES,
    USAGE, WEBHOOKS,
};
use super::tombstones::kind_of;
use super::webhook_queue::QueueState;
use crate::clock::Timestamp;
use crate::key::{KeyUsage, MemoryKeyStore};
use crate::quota::{ApiPlans, QuotaKey, decode_plan};
use crate::store::AppliedConfig;
use crate::tombstone::{MemoryTombstones, TombstoneKind};
use crate::webhook::endpoints::EndpointRecord;

/// What the store holds besides keys and tombstones (put straight into theirs).
pub(super) struct Loaded {
    pub(super) quotas: DashMap<QuotaKey, Arc<QuotaCell>>,
    pub(super) queue: QueueState,
    /// Tombstones found expired, to delete.
    pub(super) expired_tombstones: Vec<(TombstoneKind, Box<str>)>,
    /// The config file last reconciled.
    pub(super) applied: Option<AppliedConfig>,
    /// The plans the admin API manages.
    pub(super) plans: ApiPlans,
    /// Webhook endpoint records.
    pub(super) endpoints: Vec<EndpointRecord>,
    /// The sequence number the next webhook attempt takes (attempts themselves stay on disk).
    pub(super) next_attempt: u64,
}

pub(super) fn everything(
    db: &Database,
    keys: &MemoryKeyStore,
    tombstones: &MemoryTombstones,
    now: Timestamp,
) -> Result<Loaded, EmbeddedError> {
    let read = db.begin_read().map_err(EmbeddedError::database)?;
    let mut expired_tombstones = Vec::new();
    for row in read
        .open_table(TOMBSTONES)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (key, expires) = row.map_err(EmbeddedError::database)?;
        let (kind, id) = key.value();
        let Some(kind) = kind_of(kind) else {
            tracing::warn!(kind, "a tombstone of an unknown kind is ignored");
            continue;
        };
        let expires = Timestamp::from_unix_millis(expires.value());
        if expires <= now {
            expired_tombstones.push((kind, Box::from(id)));
        } else {
            tombstones.restore(kind, id, expires);
        }
    }
    let mut usage: HashMap<String, KeyUsage> = HashMap::new();
    for row in read
        .open_table(USAGE)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (id, stored) = row.map_err(EmbeddedError::database)?;
        let (count, last) = stored.value();
        usage.insert(
            id.value().to_owned(),
            KeyUsage {
                request_count: count,
                last_used: (last != NEVER_USED).then(|| Timestamp::from_unix_millis(last)),
            },
        );
    }
    for row in read
        .open_table(KEYS)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (_, bytes) = row.map_err(EmbeddedError::database)?;
        let mut record = decode_key(bytes.value())?;
        // A record the tombstones refuse is revoked, whatever it says: a restored copy of a
        // revoked key never works again.
        if record.revoked_at.is_none()
            && (tombstones.contains_now(TombstoneKind::ApiKeyId, &record.id, now)
                || tombstones.contains_now(TombstoneKind::ApiKeyHash, &record.sha256.to_hex(), now))
        {
            record.revoked_at = Some(now);
        }
        let used = usage.get(&*record.id).copied().unwrap_or_default();
        keys.restore(record, used);
    }
    let quotas: DashMap<QuotaKey, Arc<QuotaCell>> = DashMap::new();
    let mut marks: HashMap<QuotaKey, u128> = HashMap::new();
    for row in read
        .open_table(ALERTS)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (key, bits) = row.map_err(EmbeddedError::database)?;
        if let Some(key) = quota_key(key.value()) {
            marks.insert(key, bits.value());
        }
    }
    for row in read
        .open_table(QUOTA)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (key, ceiling) = row.map_err(EmbeddedError::database)?;
        if let Some(key) = quota_key(key.value()) {
            let bits = marks.remove(&key).unwrap_or(0);
            quotas.insert(key, Arc::new(QuotaCell::restored(ceiling.value(), bits)));
        }
    }
    for (key, bits) in marks {
        quotas.insert(key, Arc::new(QuotaCell::restored(0, bits)));
    }
    let mut queue = QueueState::default();
    for row in read
        .open_table(WEBHOOKS)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (seq, bytes) = row.map_err(EmbeddedError::database)?;
        let delivery = decode_delivery(bytes.value())?;
        queue.next_seq = queue.next_seq.max(seq.value());
        queue
            .waiting
            .insert((delivery.due_at, seq.value()), delivery);
    }
    for row in read
        .open_table(DEAD_LETTERS)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (seq, bytes) = row.map_err(EmbeddedError::database)?;
        queue.next_seq = queue.next_seq.max(seq.value());
        queue
            .dead
            .insert(seq.value(), decode_dead_letter(bytes.value())?);
    }
    let applied = read
        .open_table(CONFIG)
        .map_err(EmbeddedError::database)?
        .get(APPLIED_KEY)
        .map_err(EmbeddedError::database)?
        .and_then(|row| decode_applied(row.value()));
    let mut plans = ApiPlans::default();
    for row in read
        .open_table(PLANS)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (project, bytes) = row.map_err(EmbeddedError::database)?;
        let plan = decode_plan(bytes.value()).map_err(|e| {
            EmbeddedError::Database(format!("the plan of project `{}`: {e}", project.value()))
        })?;
        plans.plans.insert(Arc::from(project.value()), plan);
    }
    let mut endpoints = Vec::new();
    for row in read
        .open_table(ENDPOINTS)
        .map_err(EmbeddedError::database)?
        .iter()
        .map_err(EmbeddedError::database)?
    {
        let (_, json) = row.map_err(EmbeddedError::database)?;
        let record = EndpointRecord::from_json(json.value())
            .map_err(|e| EmbeddedError::Database(e.to_string()))?;
        endpoints.push(record);
    }
    let next_attempt = read
        .open_table(ATTEMPTS)
        .map_err(EmbeddedError::database)?
        .last()
        .map_err(EmbeddedError::database)?
        .map_or(0, |(key, _)| key.value().1.saturating_add(1));
    Ok(Loaded {
        quotas,
        queue,
        expired_tombstones,
        applied,
        plans,
        endpoints,
        next_attempt,
    })
}

fn quota_key((project, operation, month): (&str, &str, &str)) -> Option<QuotaKey> {
    let parsed = parse_operation(operation).zip(parse_month(month));
    if parsed.is_none() {
        tracing::warn!(
            project,
            operation,
            month,
            "an unreadable quota counter is ignored"
        );
    }
    parsed.map(|(operation, month)| QuotaKey {
        project: Arc::from(project),
        operation,
        month,
    })
}
