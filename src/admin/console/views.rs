//! The admin API's JSON answers as the pages read them.

use serde::Deserialize;

/// One item page of a list (the first: the pages show one).
#[derive(Debug, Deserialize)]
pub(crate) struct Listed<T> {
    /// This page's items.
    pub(crate) items: Vec<T>,
}

/// A key record with its usage.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyRow {
    pub(crate) id: String,
    pub(crate) project: String,
    pub(crate) environment: String,
    pub(crate) rps: Option<u32>,
    pub(crate) rpm: Option<u32>,
    #[serde(default)]
    pub(crate) rps_window: Option<String>,
    #[serde(default)]
    pub(crate) rpm_window: Option<String>,
    pub(crate) expires_at: Option<String>,
    pub(crate) owner: String,
    pub(crate) status: String,
    pub(crate) usage: Usage,
}

/// Requests a key authenticated.
#[derive(Debug, Deserialize)]
pub(crate) struct Usage {
    pub(crate) requests: u64,
    pub(crate) last_used: Option<String>,
}

/// A key just made: shown this once.
#[derive(Debug, Deserialize)]
pub(crate) struct NewKey {
    pub(crate) key: String,
    pub(crate) record: KeyRow,
}

/// A project with its plan and this month's tile.
#[derive(Debug, Deserialize)]
pub(crate) struct ProjectRow {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) plan: Plan,
    pub(crate) month: String,
    pub(crate) tile: Tile,
}

/// A plan's limits.
#[derive(Debug, Deserialize)]
pub(crate) struct Plan {
    pub(crate) adds_per_month: u64,
    pub(crate) queries_per_month: u64,
    #[serde(default)]
    pub(crate) alert_thresholds: Option<Vec<u8>>,
}

/// Both operations' use.
#[derive(Debug, Deserialize)]
pub(crate) struct Tile {
    pub(crate) adds: TileEntry,
    pub(crate) queries: TileEntry,
}

/// One operation's use against its limit.
#[derive(Debug, Deserialize)]
pub(crate) struct TileEntry {
    pub(crate) used: u64,
    pub(crate) limit: u64,
    pub(crate) alerts_fired: Vec<u8>,
}

/// A tile entry as a bar: its fill and marks, in percent of the limit.
#[derive(Debug)]
pub(crate) struct Bar {
    /// `adds` or `queries`.
    pub(crate) name: &'static str,
    pub(crate) used: u64,
    pub(crate) limit: u64,
    /// Use in percent of the limit, rounded down; 100 or more when spent.
    pub(crate) percent: u64,
    /// The fill's width, at most 100.
    pub(crate) width: u64,
    /// The plan's thresholds, each with whether use reached it.
    pub(crate) marks: Vec<(u8, bool)>,
}

impl Bar {
    /// The bar of `entry` under a plan with these thresholds.
    pub(crate) fn of(name: &'static str, entry: &TileEntry, thresholds: &[u8]) -> Self {
        let percent = match entry.limit {
            0 if entry.used > 0 => 100,
            0 => 0,
            limit => entry.used.saturating_mul(100) / limit,
        };
        Bar {
            name,
            used: entry.used,
            limit: entry.limit,
            percent,
            width: percent.min(100),
            marks: thresholds
                .iter()
                .map(|t| (*t, entry.alerts_fired.contains(t)))
                .collect(),
        }
    }
}

/// A project as the pages show it.
#[derive(Debug)]
pub(crate) struct ProjectCard {
    pub(crate) row: ProjectRow,
    pub(crate) bars: Vec<Bar>,
}

impl From<ProjectRow> for ProjectCard {
    fn from(row: ProjectRow) -> Self {
        // The plan's default thresholds when it names none.
        let thresholds = row
            .plan
            .alert_thresholds
            .clone()
            .unwrap_or_else(|| vec![75, 90, 100]);
        let bars = vec![
            Bar::of("adds", &row.tile.adds, &thresholds),
            Bar::of("queries", &row.tile.queries, &thresholds),
        ];
        ProjectCard { row, bars }
    }
}

/// The dead letters' count.
#[derive(Debug, Deserialize)]
pub(crate) struct DeadLetterCount {
    pub(crate) count: u64,
}
