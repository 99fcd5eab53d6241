//! The audit log as a Redis stream (section 7).
//!
//! Stored: one stream, `<prefix>audit` by default, one entry per chained line with a single
//! field `line` holding the JSON text. Entry ids follow the event times, `<ms>-<seq>` with the
//! line's chain `seq`, so `XRANGE` by time works and retention is `XTRIM MINID` (Redis 6.2 or
//! later). Beside it, `<prefix>audit-head:<name>` holds the head checkpoint
//! (`{"seq":N,"sha256":"<hex>"}`), set in the same transaction as each batch, so that entries
//! trimmed or deleted off the stream's end are found: the stream then ends before it.
//! How durable both are is the Redis server's own setting (`appendfsync`); `[audit] fsync`
//! is for JSON Lines files.
//!
//! The [`AuditSink`] trait is synchronous (the writer calls it on a blocking thread, one call at
//! a time), so this sink holds a synchronous connection of its own rather than the shared
//! async [`RedisConnection`](super::RedisConnection).

use std::fmt;
use std::io;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::audit_lease::Lease;
use super::connection::redis_error;
use super::keyspace::Keyspace;
use super::sync_target::SyncTarget;
use crate::audit::checkpoint::resumed;
use crate::audit::{AuditSink, AuditSource, ChainHead, ChainedLine, Resumed};
use crate::clock::Timestamp;
use crate::config::RedisTarget;

/// How many entries one `XRANGE` page of [`RedisAuditSink::read_lines`] holds.
const PAGE: usize = 1_000;

/// A stream entry id: milliseconds and a sequence number within them.
pub(crate) type EntryId = (u64, u64);

/// Audit lines in a Redis stream.
///
/// Each batch is one `MULTI`/`EXEC` of `XADD`s and the `SET` of the head checkpoint, so a batch
/// is written whole or not at all and the checkpoint always names its last line; a batch
/// retried after its reply was lost is recognised by its last line and not written twice.
/// Retention removes the entries whose id time is before the cutoff. At start
/// ([`AuditSink::resume`]), a stream that ends before its checkpoint (entries cut off the end)
/// goes on from its last entry with a `RECOVERY` event saying so; a stream emptied by retention
/// goes on from the checkpoint rather than from seq 1.
///
/// Entry ids must grow; an event stamped at or before the last entry's millisecond (a clock that
/// went back, or several events in one millisecond) is filed under the last entry's millisecond
/// with the next sequence number. Such an event is therefore purged no earlier than its own time.
///
/// A stream holds one chain, so it has one writer at a time: instances that share a prefix give
/// each audit log its own stream with [`RedisAuditSink::with_stream`], and a writer takes the
/// stream's lease with [`RedisAuditSink::take_lease`] so that a second one is refused.
pub struct RedisAuditSink {
    /// Where its connection goes: on a cluster, the master of the stream's slot.
    pub(super) target: SyncTarget,
    pub(super) stream: String,
    /// The name given to `with_stream`, which names the lease.
    pub(super) name: String,
    pub(super) keyspace: Keyspace,
    pub(super) lease: Option<Lease>,
    pub(super) timeout: Duration,
    pub(super) state: Mutex<State>,
}

/// The connection, and the last entry id written through it (`None`: not known, read it first).
#[derive(Default)]
pub(super) struct State {
    connection: Option<redis::Connection>,
    last_id: Option<EntryId>,
}

impl fmt::Debug for RedisAuditSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only the stream and the timeout are shown.
        f.debug_struct("RedisAuditSink")
            .field("stream", &self.stream)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisAuditSink {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS) and writes to the
    /// stream `<prefix>audit`. Each connect, read and write may take up to `timeout`; a
    /// connection that failed is replaced on the next call.
    ///
    /// # Errors
    /// When the URL is invalid or Redis does not answer.
    pub fn open(url: &str, prefix: &str, timeout: Duration) -> io::Result<Self> {
        Self::open_target(&RedisTarget::from(url), prefix, timeout)
    }

    /// [`open`](Self::open) on one Redis or on a Redis Cluster, as `target` says. On a cluster
    /// the stream's name carries a hash tag (`<prefix>{audit}`), which its lease and head
    /// share, and the sink talks to the master of that slot.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_target(target: &RedisTarget, prefix: &str, timeout: Duration) -> io::Result<Self> {
        let keyspace = if target.is_cluster() {
            Keyspace::for_cluster(prefix)
        } else {
            Keyspace::new(prefix)
        };
        let stream = keyspace.audit_stream("audit");
        let target = SyncTarget::new(target, &stream)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, redis_error(&e)))?;
        let sink = RedisAuditSink {
            target,
            stream,
            name: "audit".to_owned(),
            keyspace,
            lease: None,
            timeout: timeout.max(Duration::from_millis(1)),
            state: Mutex::new(State::default()),
        };
        sink.with_connection(|_, _| Ok(()))?;
        Ok(sink)
    }

    /// Writes to the stream `<prefix><name>` instead, e.g. `audit:instance-a`.
    #[must_use]
    pub fn with_stream(mut self, name: &str) -> Self {
        self.stream = self.keyspace.audit_stream(name);
        self.target = self.target.for_key(&self.stream);
        self.name = name.to_owned();
        self.lease = None;
        // On a cluster the stream may live on another master than the connection's.
        *self.locked() = State::default();
        self
    }

    /// Makes this sink the stream's one live writer: takes the lease key
    /// ([`lease_key`](Self::lease_key)) for [`AUDIT_LEASE`](super::AUDIT_LEASE), renewed every
    /// 3 s while the sink lives and released when it is dropped. A writer killed without a word
    /// loses it within 10 s. While the lease is another writer's, writes fail.
    ///
    /// # Errors
    /// [`io::ErrorKind::WouldBlock`], naming the stream, while another writer holds the lease;
    /// others when Redis does not answer.
    pub fn take_lease(self) -> io::Result<Self> {
        self.take_lease_for(super::AUDIT_LEASE)
    }

    /// [`take_lease`](Self::take_lease) with a lease of `ttl`, renewed every `ttl * 3 / 10`.
    ///
    /// # Errors
    /// As [`take_lease`](Self::take_lease).
    pub fn take_lease_for(mut self, ttl: Duration) -> io::Result<Self> {
        let key = self.lease_key();
        self.lease = None;
        self.lease = Some(Lease::take(
            &self.target,
            self.timeout,
            &self.stream,
            key,
            ttl,
        )?);
        Ok(self)
    }

    /// The key of the stream's head checkpoint.
    pub fn head_key(&self) -> String {
        self.keyspace.audit_head(&self.name)
    }

    /// The head checkpoint: the last line written, or `None` before the first batch. A stream
    /// that ends before it had entries cut off.
    ///
    /// # Errors
    /// When Redis does not answer, or ([`io::ErrorKind::InvalidData`]) the key holds no
    /// checkpoint.
    pub fn checkpoint(&self) -> io::Result<Option<ChainHead>> {
        let text: Option<String> = self.with_connection(|connection, _| {
            redis::cmd("GET").arg(self.head_key()).query(connection)
        })?;
        text.map(|text| {
            ChainHead::from_checkpoint(&text)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.head_key())))
        })
        .transpose()
    }

    /// The key of the stream's writer lease.
    pub fn lease_key(&self) -> String {
        self.keyspace.audit_lease(&self.name)
    }

    /// The stream's key.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Every line in the stream, oldest first: what [`verify`](crate::audit::verify) reads.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub fn read_lines(&self) -> io::Result<Vec<String>> {
        self.with_connection(|connection, _| {
            let mut lines = Vec::new();
            let mut start = "-".to_owned();
            loop {
                let page: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                    .arg(&self.stream)
                    .arg(&start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(PAGE)
                    .query(connection)?;
                let full = page.len() == PAGE;
                let Some((last, _)) = page.last() else {
                    break;
                };
                start = format!("({last}");
                lines.extend(
                    page.into_iter()
                        .filter_map(|(_, fields)| line_field(fields)),
                );
                if !full {
                    break;
                }
            }
            Ok(lines)
        })
    }

    /// Runs `call` on the connection, connecting first if there is none; any error drops the
    /// connection (and what is known of the stream) so the next call starts afresh.
    pub(super) fn with_connection<T>(
        &self,
        call: impl FnOnce(&mut redis::Connection, &mut Option<EntryId>) -> redis::RedisResult<T>,
    ) -> io::Result<T> {
        let mut state = self.locked();
        let State {
            connection,
            last_id,
        } = &mut *state;
        let result = match connection {
            Some(connection) => call(connection, last_id),
            None => self.connect().and_then(|mut fresh| {
                let result = call(&mut fresh, last_id);
                *connection = Some(fresh);
                result
            }),
        };
        result.map_err(|error| {
            *state = State::default();
            let kind = if error.is_timeout() {
                io::ErrorKind::TimedOut
            } else {
                io::ErrorKind::Other
            };
            io::Error::new(kind, redis_error(&error))
        })
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        self.target.connect(self.timeout)
    }

    fn locked(&self) -> MutexGuard<'_, State> {
        // A panic mid-call may leave a reply unread on the connection: start over.
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut state = poisoned.into_inner();
            *state = State::default();
            state
        })
    }

    /// Whether the stream exists: one emptied by retention does, a mistaken name does not.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub fn exists(&self) -> io::Result<bool> {
        self.with_connection(|connection, _| {
            redis::cmd("EXISTS").arg(&self.stream).query(connection)
        })
    }

    /// The stream's last generated id and its last entry's line.
    fn last_written(
        &self,
        connection: &mut redis::Connection,
    ) -> redis::RedisResult<(EntryId, Option<String>)> {
        let last: Vec<(String, Vec<String>)> = redis::cmd("XREVRANGE")
            .arg(&self.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(connection)?;
        if let Some((id, fields)) = last.into_iter().next() {
            // Entries are only removed from the front, so the last entry has the last id.
            return Ok((parse_id(&id), line_field(fields)));
        }
        let exists: bool = redis::cmd("EXISTS").arg(&self.stream).query(connection)?;
        if !exists {
            return Ok(((0, 0), None));
        }
        // Emptied by retention: new ids must still be above the removed ones.
        let info: redis::streams::StreamInfoStreamReply = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&self.stream)
            .query(connection)?;
        Ok((parse_id(&info.last_generated_id), None))
    }
}

impl AuditSink for RedisAuditSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.lease.as_ref().is_some_and(Lease::is_lost) {
            return Err(io::Error::other(format!(
                "audit stream {}: another writer took its lease",
                self.stream
            )));
        }
        self.with_connection(|connection, known_last| {
            let mut rest = batch;
            let mut last = match *known_last {
                Some(id) => id,
                None => {
                    let (id, line) = self.last_written(connection)?;
                    // After an error the batch may have been written with its reply lost:
                    // what is already the stream's end is not written again.
                    if let Some(line) = line {
                        let hash: [u8; 32] = Sha256::digest(line.as_bytes()).into();
                        if let Some(at) = batch.iter().position(|l| l.hash == hash) {
                            rest = &batch[at + 1..];
                        }
                    }
                    id
                }
            };
            let mut pipe = redis::pipe();
            pipe.atomic();
            if let Some(newest) = rest.last() {
                let head = newest.head();
                pipe.cmd("SET")
                    .arg(self.head_key())
                    .arg(head.to_checkpoint())
                    .ignore();
            }
            for line in rest {
                let millis = u64::try_from(line.ts.unix_millis()).unwrap_or(0);
                last = next_id(last, (millis, line.seq));
                pipe.cmd("XADD")
                    .arg(&self.stream)
                    .arg(format!("{}-{}", last.0, last.1))
                    .arg("line")
                    .arg(&line.line)
                    .ignore();
            }
            if !rest.is_empty() {
                pipe.query::<()>(connection)?;
            }
            *known_last = Some(last);
            Ok(())
        })
    }

    fn purge_before(&self, cutoff: Timestamp) -> io::Result<usize> {
        let min_id = u64::try_from(cutoff.unix_millis()).unwrap_or(0);
        self.with_connection(|connection, _| {
            redis::cmd("XTRIM")
                .arg(&self.stream)
                .arg("MINID")
                .arg(min_id)
                .query(connection)
        })
    }

    fn head(&self) -> io::Result<ChainHead> {
        let (_, line) = self.with_connection(|connection, _| self.last_written(connection))?;
        match line {
            Some(line) => ChainHead::of_line(&line),
            // Emptied by retention: the chain goes on from where it was.
            None => Ok(self.checkpoint()?.unwrap_or_default()),
        }
    }

    fn resume(&self) -> io::Result<Resumed> {
        let (last_id, line) =
            self.with_connection(|connection, _| self.last_written(connection))?;
        let filed_from = Timestamp::from_unix_millis(i64::try_from(last_id.0).unwrap_or(i64::MAX));
        let head = line.map(|line| ChainHead::of_line(&line)).transpose()?;
        // A stream emptied by retention keeps its key (its last id); a missing key means the
        // stream itself was deleted: every line since the checkpoint is lost, and said so.
        let deleted = last_id == (0, 0);
        resumed(head, filed_from, self.checkpoint(), deleted, Vec::new())
    }

    fn source(&self) -> AuditSource {
        AuditSource::Redis(std::sync::Arc::new(self.reader()))
    }
}

/// The id for an entry wanted at `wanted`: that one when it is above `last`, else the next one
/// after `last`.
fn next_id(last: EntryId, wanted: EntryId) -> EntryId {
    if wanted > last {
        wanted
    } else {
        match last.1.checked_add(1) {
            Some(seq) => (last.0, seq),
            None => (last.0.saturating_add(1), 0),
        }
    }
}

/// `<ms>-<seq>` as numbers; anything else as `0-0`.
pub(super) fn parse_id(id: &str) -> EntryId {
    let (millis, seq) = id.split_once('-').unwrap_or((id, "0"));
    (millis.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// The value of the field `line` in an entry's flat field list.
pub(super) fn line_field(fields: Vec<String>) -> Option<String> {
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if name == "line" {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_growing_when_event_times_repeat_or_go_back() {
        assert_eq!(next_id((0, 0), (1_000, 1)), (1_000, 1));
        assert_eq!(next_id((1_000, 1), (1_000, 2)), (1_000, 2));
        assert_eq!(next_id((1_000, 2), (999, 3)), (1_000, 3));
        assert_eq!(next_id((1_000, 7), (1_000, 3)), (1_000, 8));
        assert_eq!(next_id((1_000, u64::MAX), (5, 1)), (1_001, 0));
        assert_eq!(next_id((1_000, 8), (1_001, 4)), (1_001, 4));
    }

    #[test]
    fn entry_ids_and_fields_are_read() {
        assert_eq!(parse_id("1800000000000-42"), (1_800_000_000_000, 42));
        assert_eq!(parse_id("junk"), (0, 0));
        let fields = vec!["other".into(), "x".into(), "line".into(), "{}".into()];
        assert_eq!(line_field(fields), Some("{}".into()));
        assert_eq!(line_field(vec!["line".into()]), None);
    }
}
