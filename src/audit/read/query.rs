//! A query of the audit log: its filters, its page size, and the page it answers.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::{AuditCursor, AuditReadError};
use crate::audit::Outcome;
use crate::clock::Timestamp;

/// The most lines one call examines, matching or not: a filter that matches nothing answers an
/// empty page with a cursor after this many, rather than reading the whole log in one call.
pub const SCAN_LIMIT: usize = 10_000;

/// How long after its `ts` a line may be filed and still be found by a query whose `to` is
/// after that `ts`. Lines are filed in the chain's order, at their `ts` or at the line before's
/// when that is later (a call chained after one that arrived later than it), so a line is filed
/// at most its call's duration after its `ts`; a query with `to` starts its scan at lines filed
/// up to `to` plus this much, not at the newest line.
pub const FILING_SLACK: Duration = Duration::from_secs(86_400);

/// What to read from an audit log, newest first.
///
/// Every filter given must match: `from <= ts < to` (the event's own time), and `key_id`,
/// `project`, `outcome` equal to the line's. `limit` is clamped to
/// 1..=[`AuditQuery::MAX_LIMIT`]; `cursor` is the `next_cursor` of the page before, with the
/// same filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// Lines whose `ts` is at or after this time.
    pub from: Option<Timestamp>,
    /// Lines whose `ts` is before this time.
    pub to: Option<Timestamp>,
    /// Lines of this key id.
    pub key_id: Option<String>,
    /// Lines of this project.
    pub project: Option<String>,
    /// Lines with this outcome.
    pub outcome: Option<Outcome>,
    /// Where the page before stopped.
    pub cursor: Option<AuditCursor>,
    /// The most lines in the page.
    pub limit: usize,
}

impl AuditQuery {
    /// The page size of [`AuditQuery::new`].
    pub const DEFAULT_LIMIT: usize = 50;
    /// The largest page.
    pub const MAX_LIMIT: usize = 500;

    /// Every line, newest first, [`AuditQuery::DEFAULT_LIMIT`] at a time.
    pub fn new() -> Self {
        AuditQuery {
            from: None,
            to: None,
            key_id: None,
            project: None,
            outcome: None,
            cursor: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// The filters, checked, and the page size, clamped.
    pub(super) fn filter(&self) -> Result<Filter<'_>, AuditReadError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(AuditReadError::FromAfterTo { from, to });
        }
        Ok(Filter {
            query: self,
            limit: self.limit.clamp(1, Self::MAX_LIMIT),
        })
    }
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self::new()
    }
}

/// One page of a query: its lines, newest first, and where the next page goes on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditPage {
    /// The matching lines, each the JSON object the log holds (with `seq` and `prev`).
    pub items: Vec<Value>,
    /// `None` when the log has no older line that could match. A page may be short, or empty,
    /// and still have a cursor: the call stopped after [`SCAN_LIMIT`] lines.
    pub next_cursor: Option<AuditCursor>,
}

/// A checked query, as the sources apply it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Filter<'q> {
    query: &'q AuditQuery,
    /// The page size, within its bounds.
    pub(super) limit: usize,
}

impl Filter<'_> {
    /// The cursor the query goes on from.
    pub(super) fn cursor(&self) -> Option<AuditCursor> {
        self.query.cursor
    }

    /// Lines filed before this time are all older than `from`: the scan ends there.
    pub(super) fn from(&self) -> Option<Timestamp> {
        self.query.from
    }

    /// No line filed after this time can match `to`: the scan starts there.
    pub(super) fn filed_until(&self) -> Option<Timestamp> {
        self.query.to.map(|to| to.saturating_add(FILING_SLACK))
    }

    /// The line as a JSON object when it is an audit line that matches, else `None`. A line that
    /// is not an audit line (not JSON, no `seq`) matches nothing: verification reports it.
    pub(super) fn matching(&self, line: &str) -> Option<Value> {
        let value: Value = serde_json::from_str(line).ok()?;
        value.get("seq")?.as_u64()?;
        let q = self.query;
        let text = |field: &str| value.get(field).and_then(Value::as_str);
        let equal =
            |wanted: Option<&str>, field: &str| wanted.is_none_or(|w| text(field) == Some(w));
        if !equal(q.key_id.as_deref(), "key_id")
            || !equal(q.project.as_deref(), "project")
            || !equal(q.outcome.map(Outcome::as_str), "outcome")
        {
            return None;
        }
        if q.from.is_some() || q.to.is_some() {
            let ts = Timestamp::parse_rfc3339(text("ts")?).ok()?;
            if q.from.is_some_and(|from| ts < from) || q.to.is_some_and(|to| ts >= to) {
                return None;
            }
        }
        Some(value)
    }
}

/// A page being filled: the items so far, and how many lines were examined.
#[derive(Debug)]
pub(super) struct Page<'q> {
    filter: Filter<'q>,
    items: Vec<Value>,
    examined: usize,
}

/// What a page says after a line.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Read the line before.
    More,
    /// The page is full, or the scan bound is reached: the next page goes on before this line.
    Stop,
}

impl<'q> Page<'q> {
    pub(super) fn new(filter: Filter<'q>) -> Self {
        Page {
            filter,
            items: Vec::new(),
            examined: 0,
        }
    }

    /// The next line, older than the ones before.
    pub(super) fn line(&mut self, line: &str) -> Next {
        self.examined += 1;
        if let Some(item) = self.filter.matching(line) {
            self.items.push(item);
        }
        if self.items.len() >= self.filter.limit || self.examined >= SCAN_LIMIT {
            Next::Stop
        } else {
            Next::More
        }
    }

    /// The page, going on at `next_cursor`.
    pub(super) fn finish(self, next_cursor: Option<AuditCursor>) -> AuditPage {
        AuditPage {
            items: self.items,
            next_cursor,
        }
    }
}
