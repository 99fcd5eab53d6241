//! `PlanStore`, the same on every backend: create refuses a project with a plan, set adds or
//! replaces, an equal plan changes nothing, every change moves the generation by one, and
//! every limit and threshold comes back exactly. Included by path in each test binary that
//! holds a backend.
#![allow(dead_code, clippy::unwrap_used)]

use memorysync_pipeline::quota::{AlertThresholds, Plan, PlanChange, PlanPut, PlanStore, PutMode};

/// A plan at the edges of what a plan can say.
pub(crate) fn odd_plan() -> Plan {
    Plan {
        alert_thresholds: AlertThresholds::new([1, 33, 99, 100]),
        ..Plan::new(u64::MAX, 9_007_199_254_740_993)
    }
}

/// Runs the suite on an empty `store`.
pub(crate) async fn plan_store_suite<S: PlanStore>(store: &S) {
    let empty = store.load().await.unwrap();
    assert!(empty.plans.is_empty(), "{empty:?}");
    let start = empty.generation;
    assert_eq!(store.generation().await.unwrap(), start);

    let put = |project: &'static str, plan: Plan, mode| store.put(project, plan, mode);
    let PlanPut { change, plans } = put("proj_a", Plan::new(10, 20), PutMode::Create)
        .await
        .unwrap();
    assert_eq!(change, Some(PlanChange::Added));
    assert_eq!(plans.generation, start + 1);
    assert_eq!(plans.plans.get("proj_a"), Some(&Plan::new(10, 20)));

    // Create refuses and writes nothing; set replaces; the same plan again changes nothing.
    let refused = put("proj_a", Plan::new(1, 1), PutMode::Create)
        .await
        .unwrap();
    assert_eq!(refused.change, None);
    assert_eq!(refused.plans.generation, start + 1);
    assert_eq!(refused.plans.plans.get("proj_a"), Some(&Plan::new(10, 20)));
    let set = put("proj_a", odd_plan(), PutMode::Set).await.unwrap();
    assert_eq!(set.change, Some(PlanChange::Changed));
    let again = put("proj_a", odd_plan(), PutMode::Set).await.unwrap();
    assert_eq!(again.change, Some(PlanChange::Unchanged));
    assert_eq!(again.plans.generation, start + 2, "nothing written");

    // Set adds a new project; a plan without alerts stays without.
    let quiet = Plan {
        alert_thresholds: AlertThresholds::NONE,
        ..Plan::new(0, 0)
    };
    let added = put("proj.b-2", quiet.clone(), PutMode::Set).await.unwrap();
    assert_eq!(added.change, Some(PlanChange::Added));

    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.generation, start + 3);
    assert_eq!(store.generation().await.unwrap(), start + 3);
    assert_eq!(loaded.plans.len(), 2);
    assert_eq!(loaded.plans.get("proj_a"), Some(&odd_plan()));
    assert_eq!(loaded.plans.get("proj.b-2"), Some(&quiet));
    assert_eq!(
        loaded, added.plans,
        "a write answers with what a load reads"
    );
}
