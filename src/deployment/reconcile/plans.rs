//! What reconciling the file's plans changed and refused. The plans in force are worked out by
//! the deployment's plan book, beside the plans the API manages.

use std::sync::Arc;

use super::Refused;
use crate::quota::QuotaPlans;
use crate::store::RecordOwner;

/// How many projects' file plans differ between `before` and `after`: added, changed or
/// dropped. The API's plans are not the file's changes.
pub(super) fn changed(before: &QuotaPlans, after: &QuotaPlans) -> usize {
    let filed = |plans: &QuotaPlans, project: &str| {
        (plans.owner(project) == Some(RecordOwner::Config)).then(|| plans.get(project).cloned())
    };
    let mut projects: Vec<&str> = before
        .iter()
        .chain(after.iter())
        .filter(|(_, _, owner)| *owner == RecordOwner::Config)
        .map(|(project, _, _)| project)
        .collect();
    projects.sort_unstable();
    projects.dedup();
    projects
        .into_iter()
        .filter(|project| filed(before, project) != filed(after, project))
        .count()
}

/// The refusals of the file's projects whose plan the API manages.
pub(super) fn refused(api_owned: Vec<Arc<str>>) -> impl Iterator<Item = Refused> {
    api_owned.into_iter().map(|project| {
        Refused::plan(
            &project,
            "its plan is managed by the admin API, which alone may change it",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Plan;

    #[test]
    fn only_the_files_plans_count_and_each_change_is_counted_once() {
        let before = QuotaPlans::new()
            .with_owned_plan("kept", Plan::new(1, 1), RecordOwner::Config)
            .with_owned_plan("raised", Plan::new(1, 1), RecordOwner::Config)
            .with_owned_plan("dropped", Plan::new(1, 1), RecordOwner::Config)
            .with_plan("api", Plan::new(7, 7));
        let after = QuotaPlans::new()
            .with_owned_plan("kept", Plan::new(1, 1), RecordOwner::Config)
            .with_owned_plan("raised", Plan::new(5, 1), RecordOwner::Config)
            .with_owned_plan("new", Plan::new(2, 2), RecordOwner::Config)
            .with_plan("api", Plan::new(8, 8));
        assert_eq!(changed(&before, &after), 3, "raised, dropped, new");
        assert_eq!(changed(&after, &after), 0);
        let refused: Vec<Refused> = refused(vec![Arc::from("api")]).collect();
        assert_eq!(refused.len(), 1);
        assert_eq!((refused[0].kind, &*refused[0].id), ("plan", "api"));
    }
}
