//! Redis's command counts (`INFO commandstats`) and how they are told apart: request path,
//! background, inside scripts.

#![allow(clippy::unwrap_used)]

use super::*;

pub(crate) type Counts = BTreeMap<String, u64>;

/// Commands of the bench's own control connection.
pub(crate) const CONTROL: &[&str] = &[
    "info",
    "config|resetstat",
    "client|list",
    "flushdb",
    "select",
    "client|setinfo",
    "hello",
];
/// Commands a stage sends itself and waits for: one round trip each. (`HMGET` is a key look-up
/// the cache could not answer; the rate-limit script's own `HMGET` is told apart by
/// [`DECISION_MARKER`].)
pub(crate) const REQUEST_PATH: &[&str] = &["hmget", "evalsha", "eval", "script|load", "ping"];
/// Called once by each rate-limit decision (the server's clock) and by nothing else a run
/// sends: the decisions are counted by it, and as many `HMGET`s (the script reads its state
/// with one) are commands inside scripts, not look-ups.
pub(crate) const DECISION_MARKER: &str = "time";
/// The key cache's poll of the generation counter: one `MGET`, a background round trip, four
/// times a second.
pub(crate) const CACHE_POLL: &str = "mget";
/// Commands the audit writer sends from its blocking thread; `MULTI` opens each batch.
pub(crate) const AUDIT: &[&str] = &[
    "multi",
    "exec",
    "xadd",
    "xrevrange",
    "xinfo|stream",
    "xtrim",
];
/// Audit commands sent on their own, a round trip each (the rest travel inside a batch).
pub(crate) const AUDIT_ALONE: &[&str] = &["multi", "xrevrange", "xinfo|stream", "xtrim"];
/// One call of the key-usage flush script with one record: its `EVALSHA` and what it calls
/// (`HGET`/`HSET` of `last_used` when it rose, as it does under load).
pub(crate) const FLUSH_ONE_RECORD: &[(&str, u64)] = &[
    ("evalsha", 1),
    ("hexists", 1),
    ("hincrby", 1),
    ("hget", 1),
    ("hset", 1),
];
/// Called only by the flush script: one per record flushed.
pub(crate) const FLUSH_MARKER: &str = "hincrby";

pub(crate) fn total(counts: &Counts) -> u64 {
    counts.values().sum()
}

pub(crate) fn get(counts: &Counts, name: &str) -> u64 {
    counts.get(name).copied().unwrap_or(0)
}

/// Moves up to `calls` of `name` from `from` to `to`.
pub(crate) fn shift(from: &mut Counts, to: &mut Counts, name: &str, calls: u64) {
    let moved = calls.min(get(from, name));
    if moved == 0 {
        return;
    }
    *from.entry(name.to_owned()).or_default() -= moved;
    if from[name] == 0 {
        from.remove(name);
    }
    *to.entry(name.to_owned()).or_default() += moved;
}

/// `after` minus `before`, name by name.
pub(crate) fn minus(after: &Counts, before: &Counts) -> Counts {
    after
        .iter()
        .map(|(name, calls)| (name.clone(), calls.saturating_sub(get(before, name))))
        .filter(|(_, calls)| *calls > 0)
        .collect()
}

pub(crate) fn show(counts: &Counts, per: usize) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(name, calls)| {
            let each = *calls as f64 / per as f64;
            format!("{} {calls} ({each:.4}/req)", name.to_uppercase())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bench's own connection to the Redis under measurement.
pub(crate) struct Control {
    pub(crate) connection: redis::Connection,
}

impl Control {
    pub(crate) fn open(url: &str) -> Self {
        let client = redis::Client::open(url).unwrap();
        Control {
            connection: client.get_connection().unwrap(),
        }
    }

    pub(crate) fn run<T: redis::FromRedisValue>(&mut self, command: &mut redis::Cmd) -> T {
        command.query(&mut self.connection).unwrap()
    }

    pub(crate) fn flushdb(&mut self) {
        self.run::<()>(&mut redis::cmd("FLUSHDB"));
    }

    /// Zeroes the command counts and the connection count.
    pub(crate) fn reset(&mut self) {
        self.run::<()>(redis::cmd("CONFIG").arg("RESETSTAT"));
    }

    /// Calls per command since the last reset, without the control connection's own.
    pub(crate) fn commands(&mut self) -> Counts {
        let text: String = self.run(redis::cmd("INFO").arg("commandstats"));
        text.lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = rest.strip_prefix("calls=")?.split(',').next()?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .filter(|(name, _)| !CONTROL.contains(&name.as_str()))
            .collect()
    }

    pub(crate) fn info_field(&mut self, section: &str, field: &str) -> String {
        let text: String = self.run(redis::cmd("INFO").arg(section));
        text.lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or("?")
            .trim()
            .to_owned()
    }

    /// Clients in `MONITOR` mode: each one slows every command down a little.
    pub(crate) fn monitors(&mut self) -> usize {
        let list: String = self.run(redis::cmd("CLIENT").arg("LIST"));
        list.lines()
            .filter(|line| line.contains(" cmd=monitor "))
            .count()
    }

    /// Whether another client may have sent commands in the last `within`: a connection
    /// opened since the reset, or a client of another database not idle that long.
    pub(crate) fn disturbed(&mut self, within: Duration) -> bool {
        let opened: u64 = self
            .info_field("stats", "total_connections_received")
            .parse()
            .unwrap_or(u64::MAX);
        let list: String = self.run(redis::cmd("CLIENT").arg("LIST"));
        let field = |line: &str, name: &str| -> Option<u64> {
            line.split(' ')
                .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        let busy_elsewhere = list.lines().any(|line| {
            // A monitor, or a pub/sub subscriber (the key cache's own, which pings its
            // connection now and then): neither sends commands to count.
            let quiet = line.split(' ').any(|f| {
                f.strip_prefix("flags=")
                    .is_some_and(|f| f.contains('O') || f.contains('P'))
            });
            !quiet
                && field(line, "db") != Some(u64::from(DB))
                && field(line, "idle").is_none_or(|idle| idle <= within.as_secs() + 1)
        });
        opened > 0 || busy_elsewhere
    }
}

/// What one run's commands were, split as the module docs say.
#[derive(Default)]
pub(crate) struct Attributed {
    /// Top-level commands the requests waited for.
    pub(crate) request: Counts,
    /// Commands run inside those requests' scripts.
    pub(crate) inner: Counts,
    /// Everything the background did (top level and inside its script).
    pub(crate) background: Counts,
    pub(crate) background_round_trips: u64,
    pub(crate) flush_calls: u64,
    pub(crate) cache_polls: u64,
    pub(crate) audit_batches: u64,
}

/// Splits the commands seen during a run (`during`) and while forcing the background work
/// after it (`after`).
pub(crate) fn attribute(mut during: Counts, after: Counts) -> Attributed {
    let mut out = Attributed::default();
    for name in AUDIT {
        shift(&mut during, &mut out.background, name, u64::MAX);
    }
    let flushes_during = get(&during, FLUSH_MARKER);
    for (name, per_call) in FLUSH_ONE_RECORD {
        shift(
            &mut during,
            &mut out.background,
            name,
            per_call * flushes_during,
        );
    }
    shift(&mut during, &mut out.background, CACHE_POLL, u64::MAX);
    for (name, calls) in &after {
        *out.background.entry(name.clone()).or_default() += calls;
    }
    let mut in_decisions = Counts::new();
    let decisions = get(&during, DECISION_MARKER);
    shift(&mut during, &mut in_decisions, "hmget", decisions);
    for name in REQUEST_PATH {
        shift(&mut during, &mut out.request, name, u64::MAX);
    }
    for (name, calls) in in_decisions {
        *during.entry(name).or_default() += calls;
    }
    out.inner = during;
    out.flush_calls = get(&out.background, FLUSH_MARKER);
    out.cache_polls = get(&out.background, CACHE_POLL);
    out.audit_batches = get(&out.background, "multi");
    out.background_round_trips = out.flush_calls
        + out.cache_polls
        + AUDIT_ALONE
            .iter()
            .map(|name| get(&out.background, name))
            .sum::<u64>();
    out
}
