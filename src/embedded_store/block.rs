//! Quota units reserved on disk ahead of use, in blocks.
//!
//! Each (project, operation, month) has a count of units admitted (`used`, in memory) and a
//! ceiling committed to the database. A unit is admitted only below the committed ceiling, so
//! after a crash the ceiling read back is at least every unit ever admitted: counting it as
//! used never lets a project past its plan. The ceiling is kept at most one block of
//! B = max(1, min(⌊plan / 100⌋, 1000)) units above `used`: when half of the block's headroom
//! is gone, the next ceiling (`used + B`, never above the plan) is committed in the background.
//! A request waits for the disk only when the headroom runs out before that commit lands, and
//! a crash forfeits at most the headroom: one block.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

/// B: the units reserved ahead for a plan of `limit` units.
pub fn block_size(limit: u64) -> u64 {
    (limit / 100).clamp(1, 1000)
}

/// What [`QuotaCell::try_take`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Take {
    /// One unit admitted; `used` counts it.
    Reserved(u64),
    /// The plan's units are all used.
    Exhausted,
    /// The committed ceiling is reached below the plan: a block must be committed first.
    NeedBlock,
}

/// One counter: units admitted, the ceiling committed, the alert marks.
#[derive(Debug, Default)]
pub(super) struct QuotaCell {
    used: AtomicU64,
    ceiling: AtomicU64,
    /// A block's commit is under way: one at a time.
    extending: AtomicBool,
    /// Alert marks: bit `p` of the 128 for `p` percent, in two halves.
    marks: [AtomicU64; 2],
    /// Woken when a block's commit ends, committed or not.
    pub(super) committed: Notify,
}

impl QuotaCell {
    /// A counter read back from the database: everything below the ceiling counts as used.
    pub(super) fn restored(ceiling: u64, marks: u128) -> Self {
        let cell = QuotaCell {
            used: AtomicU64::new(ceiling),
            ceiling: AtomicU64::new(ceiling),
            ..QuotaCell::default()
        };
        cell.claim_marks(marks);
        cell
    }

    /// Units admitted.
    pub(super) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// The committed ceiling.
    pub(super) fn ceiling(&self) -> u64 {
        self.ceiling.load(Ordering::Acquire)
    }

    /// Admits one unit if it is below both the committed ceiling and `limit`.
    pub(super) fn try_take(&self, limit: u64) -> Take {
        let ceiling = self.ceiling.load(Ordering::Acquire);
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < ceiling.min(limit)).then_some(used + 1)
            });
        match taken {
            Ok(before) => Take::Reserved(before + 1),
            Err(used) if used >= limit => Take::Exhausted,
            Err(_) => Take::NeedBlock,
        }
    }

    /// Gives a unit back, never below zero.
    pub(super) fn give_back(&self) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_sub(1)
            });
    }

    /// The ceiling to commit next, when half the headroom is gone and no commit is under way;
    /// the caller must then report the commit's end to [`QuotaCell::block_ended`].
    pub(super) fn block_due(&self, limit: u64) -> Option<u64> {
        let block = block_size(limit);
        let (used, ceiling) = (self.used(), self.ceiling());
        if ceiling >= limit || ceiling.saturating_sub(used) > block / 2 {
            return None;
        }
        if self.extending.swap(true, Ordering::AcqRel) {
            return None;
        }
        // Above the ceiling: the headroom left (at most B / 2) is below B.
        Some(used.saturating_add(block).min(limit))
    }

    /// A block's commit ended: with the ceiling committed, or `None` if it failed.
    pub(super) fn block_ended(&self, committed: Option<u64>) {
        if let Some(ceiling) = committed {
            self.ceiling.fetch_max(ceiling, Ordering::AcqRel);
        }
        self.extending.store(false, Ordering::Release);
        self.committed.notify_waiters();
    }

    /// At a clean shutdown: the ceiling comes down to the units admitted, so nothing is
    /// forfeited. The count to commit, or `None` when there is nothing to change.
    pub(super) fn settle(&self) -> Option<u64> {
        let used = self.used();
        (self.ceiling.swap(used, Ordering::AcqRel) != used).then_some(used)
    }

    /// Marks these alert bits; the ones that were not marked yet.
    pub(super) fn claim_marks(&self, bits: u128) -> u128 {
        let halves = [bits as u64, (bits >> 64) as u64];
        let mut claimed = 0u128;
        for (index, (half, mark)) in halves.iter().zip(&self.marks).enumerate() {
            // A load first: past a threshold every request finds its mark already set.
            if *half == 0 || mark.load(Ordering::Acquire) & half == *half {
                continue;
            }
            let before = mark.fetch_or(*half, Ordering::AcqRel);
            claimed |= u128::from(half & !before) << (64 * index);
        }
        claimed
    }

    /// The alert marks.
    #[cfg(test)]
    pub(super) fn marks(&self) -> u128 {
        u128::from(self.marks[0].load(Ordering::Acquire))
            | (u128::from(self.marks[1].load(Ordering::Acquire)) << 64)
    }
}

#[cfg(test)]
mod tests;
