//! The writer thread: the only place that writes the database. Callers hand it operations and
//! go on; it takes everything waiting, writes it in one transaction and commits once (a group
//! commit), then tells the callers that wait. A revocation waits for its commit; a quota block
//! reserved ahead, an alert mark and the usage tick do not.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

use super::codec::{encode_applied, encode_dead_letter, encode_delivery, encode_key, month_text};
use super::schema::{
    ALERTS, APPLIED_KEY, ATTEMPTS, CONFIG, DEAD_LETTERS, ENDPOINTS, KEYS, PLANS, QUOTA, TOMBSTONES,
    USAGE, WEBHOOKS,
};
use super::{EmbeddedError, backup};
use crate::clock::Timestamp;
use crate::key::KeyRecord;
use crate::quota::QuotaKey;
use crate::store::{AppliedConfig, StoreError};
use crate::tombstone::TombstoneKind;
use crate::webhook::{DeadLetter, Delivery};

/// The most commands taken into one transaction.
const MAX_BATCH: usize = 4096;

/// One write.
#[derive(Debug)]
pub(super) enum Op {
    /// Inserts or replaces the record with this id.
    PutKey(KeyRecord),
    /// A key's usage, as counted so far.
    PutUsage {
        id: std::sync::Arc<str>,
        count: u64,
        last_used: i64,
    },
    /// A tombstone; an existing one is never shortened.
    PutTombstone {
        kind: TombstoneKind,
        id: Box<str>,
        expires: Timestamp,
    },
    /// An expired tombstone.
    DeleteTombstone { kind: TombstoneKind, id: Box<str> },
    /// Units reserved ahead: the stored ceiling becomes at least `ceiling`.
    RaiseCeiling { key: QuotaKey, ceiling: u64 },
    /// The exact count, at a clean shutdown: nothing reserved ahead is left to forfeit.
    SetCeiling { key: QuotaKey, ceiling: u64 },
    /// Alert marks: ORed into the stored ones.
    MarkAlerts { key: QuotaKey, bits: u128 },
    /// A webhook message waiting, by arrival number.
    PutDelivery { seq: u64, delivery: Delivery },
    /// A webhook message delivered or moved.
    DeleteDelivery { seq: u64 },
    /// A dead letter, by arrival number.
    PutDeadLetter { seq: u64, letter: DeadLetter },
    /// A dead letter replayed.
    DeleteDeadLetter { seq: u64 },
    /// The config file last reconciled.
    PutConfig(AppliedConfig),
    /// A plan the admin API manages, as canonical JSON.
    PutPlan { project: Box<str>, plan: String },
    /// A webhook endpoint record, by id, as JSON.
    PutEndpoint { id: String, json: String },
    /// A webhook endpoint deleted.
    DeleteEndpoint { id: String },
    /// One webhook delivery attempt, by (time in unix milliseconds, sequence), as JSON.
    PutAttempt { key: (i64, u64), json: String },
    /// Attempts from before this time (unix milliseconds) removed.
    PurgeAttempts { before: i64 },
}

/// Called with the commit's result.
pub(super) type Done = Box<dyn FnOnce(&Result<(), StoreError>) + Send>;

/// Gives the operations of the periodic tick (key usage counted since the last one).
pub(super) type Tick = Box<dyn FnMut() -> Vec<Op> + Send>;

enum Command {
    Write {
        ops: Vec<Op>,
        done: Option<Done>,
    },
    Snapshot {
        to: PathBuf,
        done: oneshot::Sender<Result<(), EmbeddedError>>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

/// The handle of the writer thread. Dropping the last one ends the thread after a last tick.
#[derive(Debug)]
pub(super) struct Writer {
    sender: Sender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the thread that owns `db`; `tick` runs every `every` and before it ends.
    pub(super) fn start(
        db: std::sync::Arc<Database>,
        tick: Tick,
        every: Duration,
    ) -> Result<Self, EmbeddedError> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("memorysync-embedded-writer".into())
            .spawn(move || run(&db, &receiver, tick, every))
            .map_err(|e| EmbeddedError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            sender,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `ops` without waiting for their commit; `done` is told how it went.
    pub(super) fn send(&self, ops: Vec<Op>, done: Option<Done>) {
        if let Err(mpsc::SendError(Command::Write {
            done: Some(done), ..
        })) = self.sender.send(Command::Write { ops, done })
        {
            done(&Err(closed()));
        }
    }

    /// Writes `ops` and returns once they are committed (or the commit failed).
    pub(super) async fn commit(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let (tell, told) = oneshot::channel();
        self.send(
            ops,
            Some(Box::new(move |result: &Result<(), StoreError>| {
                let _ = tell.send(result.clone());
            })),
        );
        told.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Copies a consistent snapshot of the database to `to`, between two commits.
    pub(super) async fn snapshot(&self, to: PathBuf) -> Result<(), EmbeddedError> {
        let (done, told) = oneshot::channel();
        self.sender
            .send(Command::Snapshot { to, done })
            .map_err(|_| EmbeddedError::Database(closed().to_string()))?;
        told.await
            .unwrap_or_else(|_| Err(EmbeddedError::Database(closed().to_string())))
    }

    /// Runs a last tick, commits what is queued and ends the thread; later writes fail.
    pub(super) async fn close(&self) {
        let (done, told) = oneshot::channel();
        if self.sender.send(Command::Close { done }).is_ok() {
            let _ = told.await;
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            // It has answered `Close`: it ends without waiting on anything.
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    /// Ends the thread after a last tick and waits for it, so that the database is closed
    /// before the directory's lock (dropped after the writer) is released.
    fn drop(&mut self) {
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let (done, _told) = oneshot::channel();
            let _ = self.sender.send(Command::Close { done });
            let _ = thread.join();
        }
    }
}

fn closed() -> StoreError {
    StoreError::new("the embedded store is closed")
}

fn run(db: &Database, receiver: &Receiver<Command>, mut tick: Tick, every: Duration) {
    let mut next_tick = Instant::now() + every;
    loop {
        let mut commands = Vec::new();
        let mut ending = false;
        match receiver.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(command) => commands.push(command),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => ending = true,
        }
        while !ending && commands.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(command) => commands.push(command),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => ending = true,
            }
        }
        let (mut ops, mut dones, mut snapshots, mut close) =
            (Vec::new(), Vec::new(), Vec::new(), None);
        for command in commands {
            match command {
                Command::Write { ops: more, done } => {
                    ops.extend(more);
                    dones.extend(done);
                }
                Command::Snapshot { to, done } => snapshots.push((to, done)),
                Command::Close { done } => close = Some(done),
            }
        }
        if ending || close.is_some() || Instant::now() >= next_tick {
            ops.extend(tick());
            next_tick = Instant::now() + every;
        }
        let result = if ops.is_empty() {
            Ok(())
        } else {
            apply(db, &ops).map_err(|error| {
                tracing::error!(%error, writes = ops.len(), "embedded store commit failed");
                StoreError::new(format!("embedded store commit failed: {error}"))
            })
        };
        for done in dones {
            done(&result);
        }
        for (to, done) in snapshots {
            let _ = done.send(backup::snapshot(db, &to));
        }
        if let Some(done) = close {
            let _ = done.send(());
            return;
        }
        if ending {
            return;
        }
    }
}

/// Writes `ops` in one transaction and commits it durably.
fn apply(db: &Database, ops: &[Op]) -> Result<(), redb::Error> {
    let transaction = db.begin_write()?;
    {
        let mut keys = transaction.open_table(KEYS)?;
        let mut usage = transaction.open_table(USAGE)?;
        let mut tombstones = transaction.open_table(TOMBSTONES)?;
        let mut quota = transaction.open_table(QUOTA)?;
        let mut alerts = transaction.open_table(ALERTS)?;
        let mut webhooks = transaction.open_table(WEBHOOKS)?;
        let mut dead = transaction.open_table(DEAD_LETTERS)?;
        let mut config = transaction.open_table(CONFIG)?;
        let mut plans = transaction.open_table(PLANS)?;
        let mut endpoints = transaction.open_table(ENDPOINTS)?;
        let mut attempts = transaction.open_table(ATTEMPTS)?;
        for op in ops {
            match op {
                Op::PutKey(record) => {
                    keys.insert(&*record.id, encode_key(record).as_slice())?;
                }
                Op::PutUsage {
                    id,
                    count,
                    last_used,
                } => {
                    usage.insert(&**id, (*count, *last_used))?;
                }
                Op::PutTombstone { kind, id, expires } => {
                    let key = (kind.as_str(), &**id);
                    let stored = tombstones.get(key)?.map(|v| v.value());
                    let expires =
                        stored.map_or(expires.unix_millis(), |s| s.max(expires.unix_millis()));
                    tombstones.insert(key, expires)?;
                }
                Op::DeleteTombstone { kind, id } => {
                    tombstones.remove((kind.as_str(), &**id))?;
                }
                Op::RaiseCeiling { key, ceiling } => {
                    let month = month_text(key.month);
                    let at = (&*key.project, key.operation.as_str(), month.as_str());
                    let stored = quota.get(at)?.map_or(0, |v| v.value());
                    quota.insert(at, stored.max(*ceiling))?;
                }
                Op::SetCeiling { key, ceiling } => {
                    let month = month_text(key.month);
                    quota.insert(
                        (&*key.project, key.operation.as_str(), month.as_str()),
                        *ceiling,
                    )?;
                }
                Op::MarkAlerts { key, bits } => {
                    let month = month_text(key.month);
                    let at = (&*key.project, key.operation.as_str(), month.as_str());
                    let stored = alerts.get(at)?.map_or(0, |v| v.value());
                    alerts.insert(at, stored | bits)?;
                }
                Op::PutDelivery { seq, delivery } => {
                    webhooks.insert(*seq, encode_delivery(delivery).as_slice())?;
                }
                Op::DeleteDelivery { seq } => {
                    webhooks.remove(*seq)?;
                }
                Op::PutDeadLetter { seq, letter } => {
                    dead.insert(*seq, encode_dead_letter(letter).as_slice())?;
                }
                Op::DeleteDeadLetter { seq } => {
                    dead.remove(*seq)?;
                }
                Op::PutConfig(applied) => {
                    config.insert(APPLIED_KEY, encode_applied(applied).as_slice())?;
                }
                Op::PutPlan { project, plan } => {
                    plans.insert(&**project, plan.as_bytes())?;
                }
                Op::PutEndpoint { id, json } => {
                    endpoints.insert(id.as_str(), json.as_str())?;
                }
                Op::DeleteEndpoint { id } => {
                    endpoints.remove(id.as_str())?;
                }
                Op::PutAttempt { key, json } => {
                    attempts.insert(*key, json.as_str())?;
                }
                Op::PurgeAttempts { before } => {
                    attempts.retain_in(..(*before, 0), |_, _| false)?;
                }
            }
        }
    }
    transaction.commit()?;
    Ok(())
}
