//! Every Redis key name the stores use, built in one place with one escaping of ids.
//!
//! Under the connection's prefix (`memorysync:` by default):
//! - `rl:{<key id>}:h`, `rl:{<key id>}:s`, `rl:{<key id>}:m`: a key's rate-limit windows, with one
//!   hash tag so the three live in one cluster slot;
//! - `quota:<project>:<operation>:<YYYY-MM>`: a quota counter;
//! - `alert:<project>:<operation>:<YYYY-MM>:<percent>`: the mark of an alert that fired;
//! - `key:hash:<hex sha256>`: a key record; `key:id:<id>`: the hash of the record with that id;
//!   `key:owner:<config|api>`: the set of the ids of the records that owner manages;
//!   `key:generation`: the counter every change of a key record moves, and `key:changes` (a
//!   pub/sub channel, not a key) where each change is announced, for the instances' key caches;
//! - `plan:{api}`, `plan:{api}:generation`: the plans the admin API manages (project -> plan
//!   JSON) and the counter of their changes, with one hash tag so both live in one cluster slot;
//! - `config:applied`, `config:reconciling`: the config file last reconciled (version and
//!   digest), and the lease of the reconciliation under way;
//! - `tomb:<kind>:<id>`: a tombstone;
//! - `webhook:deliveries`, `webhook:waiting`, `webhook:claimed`, `webhook:dead`,
//!   `webhook:dead-ids` (dead letter id → member): the webhook
//!   queue, whose members are `<delivery id>|<target>` (the endpoint's id, or the URL of a
//!   delivery queued before deliveries named their endpoint);
//! - `webhook:{endpoints}:records`, `webhook:{endpoints}:generation`: the webhook endpoint
//!   records and the counter their writes move (one hash tag: one cluster slot);
//! - `webhook:attempts`: the stream of webhook delivery attempts;
//! - `audit`, or the name given to [`RedisAuditSink::with_stream`](super::RedisAuditSink::with_stream):
//!   an audit stream;
//! - `audit-lease:<stream name>`: the lease of the audit stream's one live writer;
//! - `audit-head:<stream name>`: the audit stream's head checkpoint, its last `seq` and hash;
//! - `epoch`: the epoch marker, which seeding of Redis the stores trust.
//!
//! Every id goes through [`part`], which is one-to-one and never writes `:`, `{`, `}`, `|` or a
//! glob character. The fixed words hold none of those either, so a name splits back into its
//! parts: distinct ids, and distinct tuples of parts, give distinct names, and no family of
//! names meets another. Plain ids (letters, digits, `_`, `-`, `.`) are kept as they are, so
//! counters, records and tombstones keep the names they were stored under.
//!
//! The audit stream's name is the one exception: it is chosen by whoever deploys the pipeline
//! (`audit:<instance>`, say), never by a client, and kept exactly as given.
//!
//! **On a Redis Cluster** ([`Keyspace::for_cluster`]) every operation must touch keys of one
//! hash slot, so the families that a script or transaction writes together carry one hash tag:
//! - `quota:{<project>}:…` and `alert:{<project>}:…`: a project's counters and alert marks, so
//!   projects spread over the masters and a reservation with its marks is one slot;
//! - `key:{keys}:…` and `tomb:{keys}:…`: every key record, id index, owner index, the
//!   generation counter and the keys' tombstones, in one slot, so that an insert, upsert or
//!   revocation stays one atomic script and a crash can never leave a key admitted that its
//!   tombstone should refuse. Key records are few and every instance caches them, so one
//!   slot carries their load;
//! - `tomb:memory:{<id>}`: a memory's tombstone, on the slot of its id;
//! - `config:{config}:…`, `webhook:{queue}:…` (the queue's five keys), and for an audit stream
//!   `<name>` the stream `{<name>}` with `audit-lease:{<name>}` and `audit-head:{<name>}`.
//!
//! The rate-limit windows, the plans and the webhook endpoints carry their tags on a single
//! Redis too; the other families keep their untagged names there, so that the counters of a
//! deployment on one Redis are found again after an upgrade.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::key::KeyHash;
use crate::quota::QuotaKey;
use crate::store::RecordOwner;
use crate::tombstone::TombstoneKind;

/// The key names of one prefix. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Keyspace {
    prefix: Arc<str>,
    /// Whether the names carry the hash tags of a cluster (see the module docs).
    cluster: bool,
}

/// The four keys of the webhook queue.
#[derive(Debug)]
pub(crate) struct WebhookKeys {
    /// A hash of member → the delivery as JSON.
    pub(crate) deliveries: String,
    /// A sorted set of the members waiting, scored by due time.
    pub(crate) waiting: String,
    /// A sorted set of the members being sent, scored by claim time.
    pub(crate) claimed: String,
    /// A hash of member → the dead letter as JSON.
    pub(crate) dead: String,
    /// A hash of dead letter id → member, to replay a letter by its id.
    pub(crate) dead_ids: String,
}

impl Keyspace {
    pub(crate) fn new(prefix: &str) -> Self {
        Keyspace {
            prefix: Arc::from(prefix),
            cluster: false,
        }
    }

    /// The names of a Redis Cluster: each operation's keys share a hash tag.
    pub(crate) fn for_cluster(prefix: &str) -> Self {
        Keyspace {
            prefix: Arc::from(prefix),
            cluster: true,
        }
    }

    /// `family`, on a cluster the hash tag `{tag}`, then `parts`, joined with `:`. One
    /// allocation: record and tombstone names are built on the request path.
    fn in_family(&self, family: &str, tag: &str, parts: &[&str]) -> String {
        let mut name = self.join(&[family]);
        if self.cluster {
            name.push_str(":{");
            name.push_str(tag);
            name.push('}');
        }
        for part in parts {
            name.push(':');
            name.push_str(part);
        }
        name
    }

    /// The prefix followed by `parts` joined with `:`, as they are: callers escape ids first.
    pub(crate) fn join(&self, parts: &[&str]) -> String {
        let mut name = String::with_capacity(self.prefix.len() + 64);
        name.push_str(&self.prefix);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                name.push(':');
            }
            name.push_str(part);
        }
        name
    }

    /// The hash of a key's window state and the lists of its per-second and per-minute windows.
    pub(crate) fn rate_limit_windows(&self, key_id: &str) -> [String; 3] {
        let tag = format!("{{{}}}", part(key_id));
        ["h", "s", "m"].map(|window| self.join(&["rl", &tag, window]))
    }

    /// The units of `key` used so far.
    pub(crate) fn quota_counter(&self, key: &QuotaKey) -> String {
        let month = key.month.to_string();
        let (project, operation) = (part(&key.project), part(key.operation.as_str()));
        self.project_family("quota", &project, &[&operation, &part(&month)])
    }

    /// Set once the alert at `percent` of `key` fired.
    pub(crate) fn alert_mark(&self, key: &QuotaKey, percent: u8) -> String {
        let (month, percent) = (key.month.to_string(), percent.to_string());
        let (project, operation) = (part(&key.project), part(key.operation.as_str()));
        self.project_family("alert", &project, &[&operation, &part(&month), &percent])
    }

    /// `family:<project>:<rest>`, the project a hash tag on a cluster.
    fn project_family(&self, family: &str, project: &str, rest: &[&str]) -> String {
        let mut name = self.join(&[family]);
        name.push(':');
        if self.cluster {
            name.push('{');
            name.push_str(project);
            name.push('}');
        } else {
            name.push_str(project);
        }
        for part in rest {
            name.push(':');
            name.push_str(part);
        }
        name
    }

    /// The record whose key has this hash.
    pub(crate) fn key_record(&self, hash: &KeyHash) -> String {
        self.in_family("key", "keys", &["hash", &hash.to_hex()])
    }

    /// The hex hash of the record with this id.
    pub(crate) fn key_id_index(&self, id: &str) -> String {
        self.in_family("key", "keys", &["id", &part(id)])
    }

    /// The counter that every change of a key record moves.
    pub(crate) fn key_generation(&self) -> String {
        self.in_family("key", "keys", &["generation"])
    }

    /// The pub/sub channel where every change of a key record is announced. Channels are shared
    /// by every database of a Redis: the prefix keeps deployments apart.
    pub(crate) fn key_changes(&self) -> String {
        self.join(&["key", "changes"])
    }

    /// The ids of the key records `owner` manages.
    pub(crate) fn key_owner_index(&self, owner: RecordOwner) -> String {
        self.in_family("key", "keys", &["owner", owner.as_str()])
    }

    /// The hash of the plans the admin API manages.
    pub(crate) fn api_plans(&self) -> String {
        self.join(&["plan", "{api}"])
    }

    /// The counter of changes to [`Keyspace::api_plans`].
    pub(crate) fn api_plans_generation(&self) -> String {
        self.join(&["plan", "{api}", "generation"])
    }

    /// The version and digest of the config file last reconciled.
    pub(crate) fn config_applied(&self) -> String {
        self.in_family("config", "config", &["applied"])
    }

    /// The lease of the reconciliation under way.
    pub(crate) fn config_reconciling(&self) -> String {
        self.in_family("config", "config", &["reconciling"])
    }

    /// The tombstone of `id`.
    pub(crate) fn tombstone(&self, kind: TombstoneKind, id: &str) -> String {
        match kind {
            // Beside the key records, which the scripts write with them.
            TombstoneKind::ApiKeyId | TombstoneKind::ApiKeyHash => {
                self.in_family("tomb", "keys", &[kind.as_str(), &part(id)])
            }
            // Each on its own slot: memories are deleted on the request path.
            _ if self.cluster => self.join(&["tomb", kind.as_str(), &format!("{{{}}}", part(id))]),
            _ => self.join(&["tomb", kind.as_str(), &part(id)]),
        }
    }

    /// The audit stream called `name`, kept as given (see the module docs); on a cluster, the
    /// name escaped as the hash tag its lease and head share.
    pub(crate) fn audit_stream(&self, name: &str) -> String {
        let mut stream = self.prefix.to_string();
        if self.cluster {
            stream.push('{');
            stream.push_str(&part(name));
            stream.push('}');
        } else {
            stream.push_str(name);
        }
        stream
    }

    /// The part of the audit names that follows `audit-lease:` and `audit-head:`.
    fn audit_tag<'a>(&self, name: &'a str) -> Cow<'a, str> {
        let name = part(name);
        if self.cluster {
            Cow::Owned(format!("{{{name}}}"))
        } else {
            name
        }
    }

    /// The lease of the one live writer of the audit stream called `name`.
    pub(crate) fn audit_lease(&self, name: &str) -> String {
        self.join(&["audit-lease", &self.audit_tag(name)])
    }

    /// The head checkpoint of the audit stream called `name`.
    pub(crate) fn audit_head(&self, name: &str) -> String {
        self.join(&["audit-head", &self.audit_tag(name)])
    }

    /// The epoch marker.
    pub(crate) fn epoch(&self) -> String {
        self.join(&["epoch"])
    }

    /// The webhook endpoint records and their generation counter.
    pub(crate) fn webhook_endpoints(&self) -> [String; 2] {
        ["records", "generation"].map(|part| self.join(&["webhook", "{endpoints}", part]))
    }

    /// The stream of webhook delivery attempts.
    pub(crate) fn webhook_attempts(&self) -> String {
        self.join(&["webhook", "attempts"])
    }

    pub(crate) fn webhook_queue(&self) -> WebhookKeys {
        WebhookKeys {
            deliveries: self.in_family("webhook", "queue", &["deliveries"]),
            waiting: self.in_family("webhook", "queue", &["waiting"]),
            claimed: self.in_family("webhook", "queue", &["claimed"]),
            dead: self.in_family("webhook", "queue", &["dead"]),
            dead_ids: self.in_family("webhook", "queue", &["dead-ids"]),
        }
    }
}

/// The slots of a Redis Cluster.
const SLOTS: u16 = 16_384;

/// The hash slot of `name` on a Redis Cluster: CRC16 (XMODEM) of its hash tag (the text
/// between the first `{` and the next `}`, when not empty) or of the whole name, mod 16384.
pub(crate) fn slot_of(name: &str) -> usize {
    let bytes = name.as_bytes();
    let hashed = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let close = bytes[open + 1..].iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &bytes[open + 1..open + 1 + close])
        })
        .unwrap_or(bytes);
    crc_slot(hashed)
}

fn crc_slot(hashed: &[u8]) -> usize {
    usize::from(crc16::State::<crc16::XMODEM>::calculate(hashed) % SLOTS)
}

impl Keyspace {
    /// The slot of `key_id`'s rate-limit windows, without building their names (it is asked
    /// on every request on a cluster): the slot of their tag, the escaped id.
    pub(crate) fn rate_limit_slot(&self, key_id: &str) -> usize {
        match part(key_id) {
            tag if tag.is_empty() => slot_of(&self.rate_limit_windows(key_id)[0]),
            tag => crc_slot(tag.as_bytes()),
        }
    }

    /// The slot of `key`'s quota counter and alert marks on a cluster: that of their tag, the
    /// escaped project.
    pub(crate) fn quota_slot(&self, key: &QuotaKey) -> usize {
        match part(&key.project) {
            tag if tag.is_empty() => slot_of(&self.quota_counter(key)),
            tag => crc_slot(tag.as_bytes()),
        }
    }
}

/// The member naming one delivery in the webhook queue's hashes and sets: the id escaped, so
/// that the first `|` ends it whatever either holds. `target` is the endpoint's id, or the URL
/// of a delivery that names no endpoint.
pub(crate) fn delivery_member(id: &str, target: &str) -> String {
    let id = part(id);
    let mut member = String::with_capacity(id.len() + 1 + target.len());
    member.push_str(&id);
    member.push('|');
    member.push_str(target);
    member
}

/// An id as one part of a name: bytes other than ASCII letters, digits, `_`, `-` and `.` are
/// percent-encoded (`%` included), so the encoding is one-to-one, no id can add a `:` part to a
/// name, and none carries glob characters into a `SCAN` pattern.
pub(crate) fn part(id: &str) -> Cow<'_, str> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    if id.bytes().all(safe) {
        return Cow::Borrowed(id);
    }
    let mut out = String::with_capacity(id.len() + 8);
    for byte in id.bytes() {
        if safe(byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
