//! redb against SQLite on the embedded backend's workload: durable commits of batches of ~100
//! small writes (quota blocks, key usage), and one durable commit alone (a revocation, which
//! must be on disk before its call returns). Prints a Markdown table for BENCHMARKS.md.
//!
//! Both commit durably: redb with its default `Durability::Immediate` (fsync at each commit),
//! SQLite in WAL mode with `synchronous = FULL` (fsync of the WAL at each commit).

use std::time::{Duration, Instant};

/// Writes per batched commit.
const BATCH: usize = 100;
/// Batched commits measured.
const BATCHES: usize = 200;
/// Single-write commits measured.
const SINGLES: usize = 300;

/// A quota-block-like record: a short key, a 16-byte value.
fn record(i: usize) -> (String, [u8; 16]) {
    let key = format!("quota:proj_{:04}:add:2026-11", i % 500);
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&(i as u64).to_le_bytes());
    (key, value)
}

struct Figures {
    name: &'static str,
    batch_commits: Vec<Duration>,
    single_commits: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

impl Figures {
    fn row(&mut self) -> String {
        self.batch_commits.sort();
        self.single_commits.sort();
        let batch_total: Duration = self.batch_commits.iter().sum();
        let writes_per_sec = (BATCH * BATCHES) as f64 / batch_total.as_secs_f64();
        format!(
            "| {} | {} | {} | {:.0} | {} | {} |",
            self.name,
            micros(percentile(&self.batch_commits, 0.5)),
            micros(percentile(&self.batch_commits, 0.99)),
            writes_per_sec,
            micros(percentile(&self.single_commits, 0.5)),
            micros(percentile(&self.single_commits, 0.99)),
        )
    }
}

#[cfg(feature = "redb")]
fn redb_figures(dir: &std::path::Path) -> Figures {
    use redb::{Database, TableDefinition};
    const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("t");
    let db = Database::create(dir.join("bench.redb")).expect("redb opens");
    let mut batch_commits = Vec::with_capacity(BATCHES);
    for b in 0..BATCHES {
        let started = Instant::now();
        let tx = db.begin_write().expect("a write transaction");
        {
            let mut table = tx.open_table(TABLE).expect("the table");
            for i in 0..BATCH {
                let (key, value) = record(b * BATCH + i);
                table
                    .insert(key.as_str(), value.as_slice())
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
        batch_commits.push(started.elapsed());
    }
    let mut single_commits = Vec::with_capacity(SINGLES);
    for i in 0..SINGLES {
        let (key, value) = record(i);
        let started = Instant::now();
        let tx = db.begin_write().expect("a write transaction");
        {
            let mut table = tx.open_table(TABLE).expect("the table");
            table
                .insert(key.as_str(), value.as_slice())
                .expect("insert");
        }
        tx.commit().expect("commit");
        single_commits.push(started.elapsed());
    }
    Figures {
        name: "redb 3.1 (Durability::Immediate)",
        batch_commits,
        single_commits,
    }
}

#[cfg(feature = "sqlite")]
fn sqlite_figures(dir: &std::path::Path) -> Figures {
    use rusqlite::{Connection, params};
    let mut db = Connection::open(dir.join("bench.sqlite")).expect("sqlite opens");
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
    )
    .expect("the schema");
    let upsert = "INSERT INTO t (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = ?2";
    let mut batch_commits = Vec::with_capacity(BATCHES);
    for b in 0..BATCHES {
        let started = Instant::now();
        let tx = db.transaction().expect("a transaction");
        {
            let mut statement = tx.prepare_cached(upsert).expect("prepared");
            for i in 0..BATCH {
                let (key, value) = record(b * BATCH + i);
                statement
                    .execute(params![key, value.as_slice()])
                    .expect("upsert");
            }
        }
        tx.commit().expect("commit");
        batch_commits.push(started.elapsed());
    }
    let mut single_commits = Vec::with_capacity(SINGLES);
    for i in 0..SINGLES {
        let (key, value) = record(i);
        let started = Instant::now();
        let tx = db.transaction().expect("a transaction");
        tx.prepare_cached(upsert)
            .expect("prepared")
            .execute(params![key, value.as_slice()])
            .expect("upsert");
        tx.commit().expect("commit");
        single_commits.push(started.elapsed());
    }
    Figures {
        name: "SQLite 3 via rusqlite 0.43 (WAL, synchronous=FULL)",
        batch_commits,
        single_commits,
    }
}

fn main() {
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into()))
        .expect("a temporary directory");
    let mut rows = Vec::new();
    #[cfg(feature = "redb")]
    rows.push(redb_figures(dir.path()));
    #[cfg(feature = "sqlite")]
    rows.push(sqlite_figures(dir.path()));
    println!(
        "| database | commit of {BATCH} writes, median | p99 | writes/s batched | one-write commit, median | p99 |"
    );
    println!("|---|---|---|---|---|---|");
    for figures in &mut rows {
        println!("{}", figures.row());
    }
}
