//! The audit stream read back beside its writer, in bounded batches: newest first for queries,
//! oldest first for verification.

use std::io;
use std::sync::Mutex;

use super::audit::{EntryId, RedisAuditSink, State, line_field, parse_id};

/// Where a newest-first read of the stream starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StreamEnd {
    /// At the newest entry.
    Newest,
    /// At the newest entry filed at or before this millisecond.
    FiledUntil(u64),
    /// Just before this entry.
    Before(EntryId),
}

/// An entry: its id, and its line (`None` for an entry without a `line` field).
pub(crate) type Entry = (EntryId, Option<String>);

impl RedisAuditSink {
    /// A sink on the same stream with a connection of its own, made on first use, and no lease:
    /// it reads beside the writer without waiting for the writer's connection.
    pub(crate) fn reader(&self) -> RedisAuditSink {
        RedisAuditSink {
            target: self.target.clone(),
            stream: self.stream.clone(),
            name: self.name.clone(),
            keyspace: self.keyspace.clone(),
            lease: None,
            timeout: self.timeout,
            state: Mutex::new(State::default()),
        }
    }

    /// At most `count` entries, newest first, from `end` down to the first filed in millisecond
    /// `filed_from` (or the oldest).
    ///
    /// # Errors
    /// When Redis does not answer.
    pub(crate) fn read_back(
        &self,
        end: StreamEnd,
        filed_from: Option<u64>,
        count: usize,
    ) -> io::Result<Vec<Entry>> {
        // Inclusive ids, worked out here rather than with `(` (which needs Redis 6.2).
        let end = match end {
            StreamEnd::Newest => "+".to_owned(),
            // An id without its sequence part ends at the millisecond's last entry.
            StreamEnd::FiledUntil(millis) => millis.to_string(),
            StreamEnd::Before((millis, seq)) => match (seq.checked_sub(1), millis.checked_sub(1)) {
                (Some(seq), _) => format!("{millis}-{seq}"),
                (None, Some(millis)) => format!("{millis}-{}", u64::MAX),
                (None, None) => return Ok(Vec::new()),
            },
        };
        let start = filed_from.map_or_else(|| "-".to_owned(), |millis| millis.to_string());
        self.range("XREVRANGE", &end, &start, count)
    }

    /// At most `count` entries, oldest first, after `after` (or from the oldest).
    ///
    /// # Errors
    /// When Redis does not answer.
    pub(crate) fn read_on(&self, after: Option<EntryId>, count: usize) -> io::Result<Vec<Entry>> {
        let start = match after {
            None => "-".to_owned(),
            Some((millis, seq)) => match (seq.checked_add(1), millis.checked_add(1)) {
                (Some(seq), _) => format!("{millis}-{seq}"),
                (None, Some(millis)) => format!("{millis}-0"),
                (None, None) => return Ok(Vec::new()),
            },
        };
        self.range("XRANGE", &start, "+", count)
    }

    fn range(
        &self,
        command: &str,
        first: &str,
        last: &str,
        count: usize,
    ) -> io::Result<Vec<Entry>> {
        let entries: Vec<(String, Vec<String>)> = self.with_connection(|connection, _| {
            redis::cmd(command)
                .arg(&self.stream)
                .arg(first)
                .arg(last)
                .arg("COUNT")
                .arg(count)
                .query(connection)
        })?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| (parse_id(&id), line_field(fields)))
            .collect())
    }
}
