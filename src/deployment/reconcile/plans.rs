//! The file's plans put in force, beside the plans the API manages.

use super::Refused;
use crate::quota::QuotaPlans;
use crate::store::RecordOwner;

/// The plans once `file` replaced the file-owned ones of `current`, how many projects' plans
/// that changed (added, changed or dropped), and the projects refused because the API manages
/// their plan.
pub(super) fn merge(current: &QuotaPlans, file: &QuotaPlans) -> (QuotaPlans, usize, Vec<Refused>) {
    let mut merged = QuotaPlans::new();
    let mut refused = Vec::new();
    for (project, plan, owner) in current.iter() {
        if owner == RecordOwner::Api {
            merged = merged.with_owned_plan(project, plan.clone(), owner);
        }
    }
    for (project, plan, _) in file.iter() {
        if merged.owner(project) == Some(RecordOwner::Api) {
            refused.push(Refused::plan(
                project,
                "its plan is managed by the admin API, which alone may change it",
            ));
            continue;
        }
        merged = merged.with_owned_plan(project, plan.clone(), RecordOwner::Config);
    }
    let filed = |plans: &QuotaPlans, project: &str| {
        (plans.owner(project) == Some(RecordOwner::Config)).then(|| plans.get(project).cloned())
    };
    let mut projects: Vec<&str> = current
        .iter()
        .chain(merged.iter())
        .filter(|(_, _, owner)| *owner == RecordOwner::Config)
        .map(|(project, _, _)| project)
        .collect();
    projects.sort_unstable();
    projects.dedup();
    let changed = projects
        .into_iter()
        .filter(|project| filed(current, project) != filed(&merged, project))
        .count();
    (merged, changed, refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Plan;

    #[test]
    fn only_the_files_plans_change_and_each_change_is_counted_once() {
        let current = QuotaPlans::new()
            .with_owned_plan("kept", Plan::new(1, 1), RecordOwner::Config)
            .with_owned_plan("raised", Plan::new(1, 1), RecordOwner::Config)
            .with_owned_plan("dropped", Plan::new(1, 1), RecordOwner::Config)
            .with_plan("api", Plan::new(7, 7));
        let file = QuotaPlans::new()
            .with_owned_plan("kept", Plan::new(1, 1), RecordOwner::Config)
            .with_owned_plan("raised", Plan::new(5, 1), RecordOwner::Config)
            .with_owned_plan("new", Plan::new(2, 2), RecordOwner::Config)
            .with_owned_plan("api", Plan::new(0, 0), RecordOwner::Config);
        let (merged, changed, refused) = merge(&current, &file);
        assert_eq!(changed, 3, "raised, dropped, new");
        assert_eq!(merged.get("raised"), Some(&Plan::new(5, 1)));
        assert_eq!(merged.get("dropped"), None);
        assert_eq!(
            merged.get("api"),
            Some(&Plan::new(7, 7)),
            "the API's plan stays"
        );
        assert_eq!(merged.owner("api"), Some(RecordOwner::Api));
        assert_eq!(refused.len(), 1);
        assert_eq!(&*refused[0].id, "api");
        let (_, again, _) = merge(&merged, &file);
        assert_eq!(again, 0);
    }
}
