//! The block reservation against a model of the disk: whatever the order of requests, commits
//! and crashes, no unit is admitted above the committed ceiling, the plan is never exceeded,
//! and a crash forfeits at most one block.

use proptest::prelude::*;

use super::{QuotaCell, Take, block_size};

#[test]
fn block_sizes_follow_the_plan() {
    let sizes: Vec<u64> = [0, 1, 99, 199, 200, 10_000, 99_999, 100_000, 10_000_000]
        .iter()
        .map(|plan| block_size(*plan))
        .collect();
    assert_eq!(sizes, [1, 1, 1, 1, 2, 100, 999, 1000, 1000]);
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// A request for a unit.
    Request,
    /// The block commit under way lands on disk.
    Commit,
    /// The process dies; the commit under way lands first or not.
    Crash { landed: bool },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => Just(Step::Request),
        3 => Just(Step::Commit),
        1 => any::<bool>().prop_map(|landed| Step::Crash { landed }),
    ];
    proptest::collection::vec(step, 1..600)
}

/// One process's counter and the disk under it.
struct Model {
    limit: u64,
    cell: QuotaCell,
    disk: u64,
    /// The block commit sent and not landed.
    pending: Option<u64>,
    /// Units served to clients over every process's life.
    served: u64,
}

impl Model {
    fn request(&mut self) {
        match self.cell.try_take(self.limit) {
            Take::Reserved(used) => {
                self.served += 1;
                assert!(
                    used <= self.disk,
                    "unit {used} admitted above the disk's {}",
                    self.disk
                );
            }
            Take::Exhausted => assert!(self.cell.used() >= self.limit),
            Take::NeedBlock => {}
        }
        if let Some(next) = self.cell.block_due(self.limit) {
            assert!(self.pending.is_none(), "one block commit at a time");
            assert!(next <= self.limit, "a ceiling above the plan");
            self.pending = Some(next);
        }
    }

    fn commit(&mut self) {
        if let Some(ceiling) = self.pending.take() {
            self.disk = self.disk.max(ceiling);
            self.cell.block_ended(Some(ceiling));
        }
    }

    fn crash(&mut self, landed: bool) {
        if landed && let Some(ceiling) = self.pending {
            self.disk = self.disk.max(ceiling);
        }
        self.pending = None;
        let forfeit = self.disk - self.served;
        assert!(
            forfeit <= block_size(self.limit),
            "a crash forfeits {forfeit} units, more than a block of {}",
            block_size(self.limit)
        );
        // The forfeited units count as used from now on.
        self.served = self.disk;
        self.cell = QuotaCell::restored(self.disk, 0);
    }
}

proptest! {
    #[test]
    fn never_over_the_plan_and_a_crash_forfeits_at_most_one_block(
        limit in prop_oneof![0u64..10, 100u64..450, 5_000u64..20_000],
        steps in steps(),
    ) {
        let mut model = Model { limit, cell: QuotaCell::default(), disk: 0, pending: None, served: 0 };
        for step in steps {
            match step {
                Step::Request => model.request(),
                Step::Commit => model.commit(),
                Step::Crash { landed } => model.crash(landed),
            }
            prop_assert!(model.served <= limit, "{} served on a plan of {limit}", model.served);
            prop_assert!(model.disk <= limit);
            prop_assert!(model.cell.used() <= model.disk);
        }
    }
}

#[test]
fn a_request_waits_for_the_disk_only_when_the_headroom_is_gone() {
    // A plan of 1000: blocks of 10, the next one due with 5 units of headroom left.
    let cell = QuotaCell::default();
    assert_eq!(
        cell.try_take(1000),
        Take::NeedBlock,
        "nothing committed yet"
    );
    assert_eq!(cell.block_due(1000), Some(10));
    assert_eq!(cell.block_due(1000), None, "one commit at a time");
    cell.block_ended(Some(10));
    for used in 1..=5 {
        assert_eq!(cell.try_take(1000), Take::Reserved(used));
    }
    assert_eq!(cell.block_due(1000), Some(15), "half the headroom gone");
    cell.block_ended(Some(15));
    for used in 6..=15 {
        assert_eq!(cell.try_take(1000), Take::Reserved(used));
    }
    assert_eq!(cell.try_take(1000), Take::NeedBlock);
}

#[test]
fn a_settled_counter_forfeits_nothing_and_marks_are_claimed_once() {
    let cell = QuotaCell::default();
    assert_eq!(cell.block_due(500), Some(5));
    cell.block_ended(Some(5));
    assert_eq!(cell.try_take(500), Take::Reserved(1));
    assert_eq!(cell.settle(), Some(1));
    assert_eq!(cell.settle(), None);
    assert_eq!(cell.ceiling(), 1);
    let bits = (1u128 << 75) | (1u128 << 3);
    assert_eq!(cell.claim_marks(bits), bits);
    assert_eq!(cell.claim_marks(bits | (1u128 << 90)), 1u128 << 90);
    assert_eq!(QuotaCell::restored(7, cell.marks()).claim_marks(bits), 0);
}
