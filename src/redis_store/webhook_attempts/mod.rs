//! Webhook delivery attempts in Redis: one stream, `webhook:attempts` under the prefix, shared
//! by every instance; each attempt is one entry (`a`: the attempt as JSON) added by a script
//! that trims, with `MINID`, what is older than the retention by the server's clock. Read
//! newest first with `XREVRANGE`; the cursor is the last entry id read.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::RedisConnection;
use crate::store::StoreError;
use crate::webhook::attempt_log::{
    AttemptLog, AttemptPage, AttemptQuery, AttemptRecord, MAX_SCAN, PageError, parse_cursor,
};

/// Adds an attempt and trims by age (`record.lua`).
static RECORD: LazyLock<Script> = lua_script!("record.lua");

/// Entries one `XREVRANGE` reads at most.
const BATCH: usize = 500;

/// The webhook delivery attempts in Redis. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisAttemptLog {
    connection: RedisConnection,
    stream: String,
    retention_ms: u64,
}

impl RedisAttemptLog {
    /// The attempts under `connection`'s prefix, kept for `retention`.
    pub fn new(connection: RedisConnection, retention: Duration) -> Self {
        RedisAttemptLog {
            stream: connection.keyspace().webhook_attempts(),
            connection,
            retention_ms: u64::try_from(retention.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Up to `count` entries before `end` (`+`, or `(id`), newest first.
    async fn before(
        &self,
        end: &str,
        count: usize,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let cmd = redis::cmd("XREVRANGE")
            .arg(&self.stream)
            .arg(end)
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .to_owned();
        let mut manager = self.connection.manager();
        self.connection
            .timed(async move { cmd.query_async(&mut manager).await })
            .await
    }
}

impl AttemptLog for RedisAttemptLog {
    async fn record(&self, attempt: AttemptRecord) -> Result<(), StoreError> {
        let mut invocation = RECORD.prepare_invoke();
        invocation
            .key(&self.stream)
            .arg(attempt.to_json())
            .arg(self.retention_ms);
        let mut manager = self.connection.manager();
        let _: String = self
            .connection
            .timed(async move { invocation.invoke_async(&mut manager).await })
            .await?;
        Ok(())
    }

    async fn query(&self, query: &AttemptQuery) -> Result<AttemptPage, PageError> {
        let mut end = match query.cursor.as_deref() {
            // Checked, so that nothing but an entry id reaches the command.
            Some(cursor) => parse_cursor(cursor).map(|_| format!("({cursor}"))?,
            None => "+".to_owned(),
        };
        let (mut items, mut scanned) = (Vec::new(), 0);
        loop {
            let entries = self.before(&end, BATCH).await?;
            let exhausted = entries.len() < BATCH;
            for (id, fields) in entries {
                if items.len() == query.page_size() || scanned == MAX_SCAN {
                    return Ok(AttemptPage::new(
                        items,
                        Some(end.trim_start_matches('(').to_owned()),
                    ));
                }
                scanned += 1;
                end = format!("({id}");
                // Fields alternate name, value; the one field is `a`.
                let Some(json) = fields.get(1) else { continue };
                match AttemptRecord::from_json(json) {
                    Ok(attempt) if query.matches(&attempt) => items.push(attempt),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "an unreadable webhook attempt skipped"),
                }
            }
            if exhausted {
                return Ok(AttemptPage::new(items, None));
            }
        }
    }
}
