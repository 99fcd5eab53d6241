use std::collections::HashMap;
use std::sync::Arc;

use super::Operation;
use crate::store::RecordOwner;

/// A project's plan: units per month for each operation, and where usage alerts fire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Adds per calendar month; 0 allows none (every add is degraded).
    pub adds_per_month: u64,
    /// Queries per calendar month; 0 allows none (every query is degraded).
    pub queries_per_month: u64,
    /// Alert thresholds in percent, 1–100.
    pub alert_thresholds: AlertThresholds,
}

impl Plan {
    /// A plan with the default alert thresholds (75, 90, 100).
    pub fn new(adds_per_month: u64, queries_per_month: u64) -> Self {
        Plan {
            adds_per_month,
            queries_per_month,
            alert_thresholds: AlertThresholds::default(),
        }
    }

    /// The plan's limit for `operation`.
    pub fn limit(&self, operation: Operation) -> u64 {
        match operation {
            Operation::Add => self.adds_per_month,
            Operation::Query => self.queries_per_month,
        }
    }
}

/// A set of percentages from 1 to 100, as a bit set: one `u128`, copied freely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlertThresholds(u128);

impl AlertThresholds {
    /// No thresholds: alerts off.
    pub const NONE: AlertThresholds = AlertThresholds(0);

    /// The given percentages; values outside 1–100 are ignored.
    pub fn new(percents: impl IntoIterator<Item = u8>) -> Self {
        AlertThresholds(
            percents
                .into_iter()
                .filter(|p| (1..=100).contains(p))
                .fold(0, |bits, p| bits | (1u128 << p)),
        )
    }

    /// 75, 90 and 100.
    pub fn standard() -> Self {
        Self::new([75, 90, 100])
    }

    /// Whether `percent` is in the set.
    pub fn contains(self, percent: u8) -> bool {
        percent <= 100 && self.0 & (1u128 << percent) != 0
    }

    /// The percentages, ascending.
    pub fn iter(self) -> impl Iterator<Item = u8> {
        // Set bits lowest first: as many steps as thresholds, not a walk over 1..=100.
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let percent = bits.trailing_zeros();
            bits &= bits - 1;
            // At most 100: only bits 1..=100 are ever set.
            u8::try_from(percent).ok()
        })
    }

    /// The thresholds that `used` out of `limit` reaches and `used - 1` did not: the ones the
    /// request taking unit number `used` crosses.
    pub fn crossed_by(self, used: u64, limit: u64) -> AlertThresholds {
        if used == 0 || limit == 0 {
            return AlertThresholds::NONE;
        }
        // `p` is reached by `used` when `used * 100 >= p * limit`, that is when
        // `p <= floor(used * 100 / limit)`: the crossed ones are the percentages above the
        // floor for `used - 1` and up to the floor for `used`. In u128 so no limit overflows.
        let floor = |used: u64| (u128::from(used) * 100 / u128::from(limit)).min(100);
        let (below, reached) = (floor(used - 1), floor(used));
        if reached <= below {
            return AlertThresholds::NONE;
        }
        // Bits `below + 1 ..= reached`; both at most 100, so the shifts stay inside a u128.
        let up_to = |p: u128| (1u128 << (p + 1)) - 1;
        AlertThresholds(self.0 & up_to(reached) & !up_to(below))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Every threshold that `used` out of `limit` has reached, crossed by this unit or before:
    /// what a store that may skip units (one restored after a crash) checks its marks against.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn reached_by(self, used: u64, limit: u64) -> AlertThresholds {
        if used == 0 || limit == 0 {
            return AlertThresholds::NONE;
        }
        let reached = (u128::from(used) * 100 / u128::from(limit)).min(100);
        AlertThresholds(self.0 & ((1u128 << (reached + 1)) - 1))
    }

    /// The set as bits: bit `p` stands for `p` percent.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn bits(self) -> u128 {
        self.0
    }

    /// The set of these bits (bit `p` for `p` percent; others are dropped).
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn from_bits(bits: u128) -> AlertThresholds {
        // Bits 1..=100 only.
        AlertThresholds(bits & (((1u128 << 101) - 1) & !1))
    }
}

/// The plans of every project, by project id, each with who manages it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaPlans {
    by_project: HashMap<Arc<str>, (Plan, RecordOwner)>,
}

impl QuotaPlans {
    /// No plans: every request is unmetered until one is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a project's plan, managed by the API (the application's code).
    #[must_use]
    pub fn with_plan(self, project: impl Into<Arc<str>>, plan: Plan) -> Self {
        self.with_owned_plan(project, plan, RecordOwner::Api)
    }

    /// Adds or replaces a project's plan, managed by `owner`: the config file's plans are
    /// [`RecordOwner::Config`], and reconciling the file replaces only those.
    #[must_use]
    pub fn with_owned_plan(
        mut self,
        project: impl Into<Arc<str>>,
        plan: Plan,
        owner: RecordOwner,
    ) -> Self {
        self.by_project.insert(project.into(), (plan, owner));
        self
    }

    /// The plan of `project`.
    pub fn get(&self, project: &str) -> Option<&Plan> {
        self.by_project.get(project).map(|(plan, _)| plan)
    }

    /// Who manages the plan of `project`.
    pub fn owner(&self, project: &str) -> Option<RecordOwner> {
        self.by_project.get(project).map(|(_, owner)| *owner)
    }

    /// Every project's plan and owner, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Plan, RecordOwner)> {
        self.by_project
            .iter()
            .map(|(project, (plan, owner))| (&**project, plan, *owner))
    }

    /// How many projects have a plan.
    pub fn len(&self) -> usize {
        self.by_project.len()
    }

    /// Whether no project has a plan.
    pub fn is_empty(&self) -> bool {
        self.by_project.is_empty()
    }
}

impl Default for AlertThresholds {
    fn default() -> Self {
        Self::standard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_is_found_once_per_threshold() {
        let t = AlertThresholds::standard();
        let crossed: Vec<_> = (1..=100).map(|used| t.crossed_by(used, 100)).collect();
        assert_eq!(crossed[74].iter().collect::<Vec<_>>(), vec![75]);
        assert_eq!(crossed[89].iter().collect::<Vec<_>>(), vec![90]);
        assert_eq!(crossed[99].iter().collect::<Vec<_>>(), vec![100]);
        assert_eq!(crossed.iter().filter(|c| !c.is_empty()).count(), 3);
    }

    #[test]
    fn a_small_limit_crosses_several_at_once() {
        // With 3 units, the third crosses 75, 90 and 100 together.
        let t = AlertThresholds::standard();
        assert!(t.crossed_by(2, 3).is_empty());
        assert_eq!(
            t.crossed_by(3, 3).iter().collect::<Vec<_>>(),
            vec![75, 90, 100]
        );
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        let t = AlertThresholds::standard();
        assert_eq!(t.crossed_by(u64::MAX, u64::MAX).iter().last(), Some(100));
    }

    proptest::proptest! {
        /// The bit arithmetic against the definition, threshold by threshold.
        #[test]
        fn crossed_by_is_the_definition(
            percents in proptest::collection::vec(0u8..=120, 0..8),
            used in 0u64..1_000,
            limit in 0u64..1_000,
        ) {
            let set = AlertThresholds::new(percents.iter().copied());
            let reached = |used: u64, p: u8| u128::from(used) * 100 >= u128::from(p) * u128::from(limit);
            let expected: Vec<u8> = (1..=100u8)
                .filter(|p| set.contains(*p))
                .filter(|p| used > 0 && limit > 0 && reached(used, *p) && !reached(used - 1, *p))
                .collect();
            proptest::prop_assert_eq!(set.crossed_by(used, limit).iter().collect::<Vec<_>>(), expected);
        }
    }
}
