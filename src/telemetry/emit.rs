//! The metrics, reported through the `metrics` facade (feature `metrics`).
//!
//! Every function is one event of the table in the module docs. The decision counters use keys
//! built once (`&'static` labels, hashed once): a decision costs a recorder look-up and an
//! atomic add, and allocates nothing. The quota gauges, labelled by project, build their label
//! list per reservation.

use std::sync::{Arc, OnceLock};

use metrics::{Key, Label, Level, Metadata, counter, gauge};

use super::*;
use crate::rejection::RejectionCode;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The `outcome` words that are not a rejection code or an audit outcome.
const ADMITTED: usize = 0;
const DEGRADED: usize = 1;
const UNMETERED: usize = 2;
const ANSWERED: usize = 3;
const WORDS: [&str; 4] = ["admitted", "degraded", "unmetered", "answered"];
const CODES: usize = RejectionCode::ALL.len();
const OUTCOMES: usize = WORDS.len() + CODES + AUDIT_OUTCOMES.len();

fn outcome_label(index: usize) -> &'static str {
    match index {
        i if i < WORDS.len() => WORDS[i],
        i if i < WORDS.len() + CODES => RejectionCode::ALL[i - WORDS.len()].as_str(),
        i => AUDIT_OUTCOMES[i - WORDS.len() - CODES],
    }
}

/// Counts one decision: `memorysync_requests_total{stage, outcome}`. `outcome` indexes the
/// list of `outcome_label`; the keys of every pair are built on first use.
fn count(stage: Stage, outcome: usize) {
    static KEYS: OnceLock<Box<[Key]>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let pair = |stage: Stage, outcome: usize| {
            let labels = vec![
                Label::from_static_parts("stage", stage.label()),
                Label::from_static_parts("outcome", outcome_label(outcome)),
            ];
            Key::from_parts(REQUESTS_TOTAL, labels)
        };
        Stage::ALL
            .iter()
            .flat_map(|&stage| (0..OUTCOMES).map(move |outcome| pair(stage, outcome)))
            .collect()
    });
    let key = &keys[stage as usize * OUTCOMES + outcome];
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

pub(crate) fn admitted(stage: Stage) {
    count(stage, ADMITTED);
}

pub(crate) fn rejected(stage: Stage, code: RejectionCode) {
    // `ALL` lists the codes in declaration order (a test pins it).
    count(stage, WORDS.len() + code as usize);
    match code {
        RejectionCode::RateLimited => counter!(RATE_LIMITED_TOTAL, "stage" => "limit").increment(1),
        RejectionCode::HealthRateLimited => {
            counter!(RATE_LIMITED_TOTAL, "stage" => "health").increment(1);
        }
        _ => {}
    }
}

pub(crate) fn probe_answered() {
    count(Stage::Health, ANSWERED);
}

pub(crate) fn unmetered() {
    count(Stage::Quota, UNMETERED);
}

pub(crate) fn recorded(outcome: &'static str) {
    // An outcome missing from the list is a programming error caught by the metrics tests; it
    // is counted as the last one rather than panicking a request.
    let index = AUDIT_OUTCOMES
        .iter()
        .position(|known| *known == outcome)
        .unwrap_or(AUDIT_OUTCOMES.len() - 1);
    count(Stage::Audit, WORDS.len() + CODES + index);
}

pub(crate) fn quota_reserved(project: &Arc<str>, operation: &'static str, used: u64, limit: u64) {
    count(Stage::Quota, ADMITTED);
    let project = Arc::clone(project);
    gauge!(QUOTA_USED, "project" => project.clone(), "operation" => operation).set(used as f64);
    gauge!(QUOTA_LIMIT, "project" => project, "operation" => operation).set(limit as f64);
}

pub(crate) fn quota_degraded(project: &Arc<str>, operation: &'static str, limit: u64) {
    count(Stage::Quota, DEGRADED);
    let project = Arc::clone(project);
    counter!(QUOTA_DEGRADED_TOTAL, "project" => project.clone(), "operation" => operation)
        .increment(1);
    gauge!(QUOTA_LIMIT, "project" => project, "operation" => operation).set(limit as f64);
}

/// Takes a closure so that, without the feature, the queue is not even asked.
pub(crate) fn audit_queue_depth(depth: impl FnOnce() -> usize) {
    gauge!(AUDIT_QUEUE_DEPTH).set(depth() as f64);
}

pub(crate) fn audit_written(events: u64) {
    counter!(AUDIT_WRITTEN_TOTAL).increment(events);
}

pub(crate) fn audit_dropped(events: u64) {
    counter!(AUDIT_DROPPED_TOTAL).increment(events);
}

pub(crate) fn audit_waited() {
    counter!(AUDIT_WAITED_TOTAL).increment(1);
}

/// `outcome` is `delivered`, `failed` or `gone`.
pub(crate) fn webhook_attempt(outcome: &'static str) {
    counter!(WEBHOOK_ATTEMPTS_TOTAL, "outcome" => outcome).increment(1);
}

pub(crate) fn webhook_retry() {
    counter!(WEBHOOK_RETRIES_TOTAL).increment(1);
}

pub(crate) fn webhook_dead_letter() {
    counter!(WEBHOOK_DEAD_LETTERS_TOTAL).increment(1);
}

pub(crate) fn webhook_backlog(deliveries: u64) {
    gauge!(WEBHOOK_BACKLOG).set(deliveries as f64);
}

pub(crate) fn webhook_refused() {
    counter!(WEBHOOK_REFUSED_TOTAL).increment(1);
}

/// `store` is a store's name, or the type name of one (shortened to its last segment).
pub(crate) fn store_unavailable(store: &'static str, unavailable: bool) {
    let store = store.split('<').next().unwrap_or(store);
    let store = store.rsplit("::").next().unwrap_or(store);
    gauge!(STORE_UNAVAILABLE, "store" => store).set(if unavailable { 1.0 } else { 0.0 });
}

pub(crate) fn quota_unplanned() {
    counter!(QUOTA_UNPLANNED_TOTAL).increment(1);
}

/// Describes every metric (help text and unit) to the installed recorder; a Prometheus
/// exporter prints the descriptions as `# HELP` lines. Call it once, after installing the
/// recorder.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        REQUESTS_TOTAL,
        "Decisions of each pipeline stage, by outcome"
    );
    describe_counter!(RATE_LIMITED_TOTAL, "Requests refused 429, by stage");
    describe_counter!(
        QUOTA_DEGRADED_TOTAL,
        "Requests answered empty: quota used up"
    );
    describe_gauge!(QUOTA_USED, "Quota units used this month");
    describe_gauge!(QUOTA_LIMIT, "Quota units of the plan per month");
    describe_counter!(
        WEBHOOK_ATTEMPTS_TOTAL,
        "Webhook delivery attempts, by outcome"
    );
    describe_counter!(WEBHOOK_RETRIES_TOTAL, "Webhook retries scheduled");
    describe_counter!(
        WEBHOOK_DEAD_LETTERS_TOTAL,
        "Webhook deliveries dead-lettered"
    );
    describe_gauge!(
        WEBHOOK_BACKLOG,
        "Webhook deliveries published and not yet taken by the queue"
    );
    describe_counter!(
        WEBHOOK_REFUSED_TOTAL,
        "Offers of a webhook delivery the queue refused"
    );
    describe_gauge!(AUDIT_QUEUE_DEPTH, "Audit events waiting for the writer");
    describe_counter!(AUDIT_WRITTEN_TOTAL, "Audit events written");
    describe_counter!(AUDIT_DROPPED_TOTAL, "Audit events lost");
    describe_counter!(AUDIT_WAITED_TOTAL, "Audit events that waited for room");
    describe_gauge!(STORE_UNAVAILABLE, "1 while a shared store is unavailable");
    describe_counter!(
        QUOTA_UNPLANNED_TOTAL,
        "Metered requests of a project without a quota plan"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_indexes_name_their_labels() {
        for code in RejectionCode::ALL {
            assert_eq!(outcome_label(WORDS.len() + code as usize), code.as_str());
        }
        // `audit::Outcome`'s own test pins the list against the log's words.
        for (index, outcome) in AUDIT_OUTCOMES.iter().enumerate() {
            assert_eq!(outcome_label(WORDS.len() + CODES + index), *outcome);
        }
        assert_eq!(outcome_label(OUTCOMES - 1), "error");
    }
}
