//! A plan as the durable stores keep it: JSON in one canonical form (fields in one order,
//! thresholds ascending), so that equal plans are equal strings and a script can compare them
//! without parsing. Limits are written as integers, never through a float: any `u64` comes back
//! exactly.

use serde::{Deserialize, Serialize};

use crate::quota::{AlertThresholds, Plan};
use crate::store::StoreError;

#[derive(Serialize, Deserialize)]
struct StoredPlan {
    adds_per_month: u64,
    queries_per_month: u64,
    alert_thresholds: Vec<u8>,
}

/// `plan` in its canonical JSON form.
pub(crate) fn encode_plan(plan: &Plan) -> String {
    let stored = StoredPlan {
        adds_per_month: plan.adds_per_month,
        queries_per_month: plan.queries_per_month,
        alert_thresholds: plan.alert_thresholds.iter().collect(),
    };
    // Two integers and a list of small ones always serialize.
    serde_json::to_string(&stored).unwrap_or_default()
}

/// [`encode_plan`] read back. A threshold outside 1–100 is damage, not something to drop
/// silently.
pub(crate) fn decode_plan(bytes: &[u8]) -> Result<Plan, StoreError> {
    let stored: StoredPlan =
        serde_json::from_slice(bytes).map_err(|_| StoreError::new("an unreadable stored plan"))?;
    if let Some(bad) = stored
        .alert_thresholds
        .iter()
        .find(|p| !(1..=100).contains(*p))
    {
        return Err(StoreError::new(format!(
            "a stored plan has the alert threshold {bad}, outside 1-100"
        )));
    }
    Ok(Plan {
        adds_per_month: stored.adds_per_month,
        queries_per_month: stored.queries_per_month,
        alert_thresholds: AlertThresholds::new(stored.alert_thresholds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_and_threshold_set_round_trips_exactly() {
        for plan in [
            Plan::new(0, 0),
            Plan::new(u64::MAX, u64::MAX - 1),
            Plan {
                alert_thresholds: AlertThresholds::new([1, 50, 99, 100]),
                ..Plan::new(9_007_199_254_740_993, 3)
            },
            Plan {
                alert_thresholds: AlertThresholds::NONE,
                ..Plan::new(1, 2)
            },
        ] {
            let text = encode_plan(&plan);
            assert_eq!(decode_plan(text.as_bytes()), Ok(plan), "{text}");
        }
        assert_eq!(
            encode_plan(&Plan::new(5, 7)),
            r#"{"adds_per_month":5,"queries_per_month":7,"alert_thresholds":[75,90,100]}"#
        );
    }

    #[test]
    fn damage_is_an_error() {
        for text in [
            "",
            "{}",
            r#"{"adds_per_month":-1,"queries_per_month":1,"alert_thresholds":[]}"#,
            r#"{"adds_per_month":1,"queries_per_month":1,"alert_thresholds":[0]}"#,
            r#"{"adds_per_month":1,"queries_per_month":1,"alert_thresholds":[101]}"#,
        ] {
            assert!(decode_plan(text.as_bytes()).is_err(), "{text}");
        }
    }
}
