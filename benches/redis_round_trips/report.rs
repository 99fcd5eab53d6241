//! The Markdown tables the bench prints.

use super::*;

pub(crate) fn report_configurations(runs: &[Run], probe: &Run) {
    println!("\n### Per configuration, per request (cumulative)\n");
    println!(
        "| configuration | request path: round trips | inner script commands | background: round trips | background: commands | mean latency | requests/s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for run in runs.iter().chain([probe]) {
        println!(
            "| {}{} | {:.3} | {:.3} | {:.5} | {:.4} | {:.1} µs | {:.0} |",
            run.name,
            if run.disturbed { " (disturbed)" } else { "" },
            run.round_trips(),
            run.inner(),
            run.background_round_trips(),
            run.background(),
            micros(run.latency.mean),
            run.requests as f64 / run.elapsed.as_secs_f64(),
        );
    }
}

/// Round trips per request a stage may show beyond one: a key look-up the cache could not
/// answer (a poll came late on this busy machine, and the cache read the key again) falls in
/// whichever stage's run it happened, a few in ten thousand requests.
const LOOK_UPS_NOT_CACHED: f64 = 0.001;

pub(crate) fn report_stages(runs: &[Run], probe: &Run) {
    println!("\n### Per stage, per admitted request (differences of the configurations)\n");
    println!(
        "| stage | request path: round trips | inner script commands | background: round trips | background: commands | ≤ 1 round trip |"
    );
    println!("|---|---|---|---|---|---|");
    // Background work by its kind: the usage flush and the key cache's polls belong to auth,
    // the batches to audit.
    let usage = |run: &Run| {
        let flush: u64 = FLUSH_ONE_RECORD
            .iter()
            .map(|(name, _)| get(&run.commands.background, name))
            .sum();
        let (flushes, polls) = (run.commands.flush_calls, run.commands.cache_polls);
        (run.per(flushes + polls), run.per(flush + polls))
    };
    let batches = |run: &Run| {
        let audit: u64 = AUDIT
            .iter()
            .map(|name| get(&run.commands.background, name))
            .sum();
        let alone: u64 = AUDIT_ALONE
            .iter()
            .map(|name| get(&run.commands.background, name))
            .sum();
        (run.per(alone), run.per(audit))
    };
    let stages = ["auth", "scope", "rate limit", "quota", "audit", "health"];
    let mut before: Option<&Run> = None;
    for (stage, run) in stages.iter().zip(runs) {
        let (rt, inner) = match before {
            None => (run.round_trips(), run.inner()),
            Some(b) => (run.round_trips() - b.round_trips(), run.inner() - b.inner()),
        };
        let (bg_rt, bg) = match *stage {
            "auth" => usage(run),
            "audit" => batches(run),
            _ => (0.0, 0.0),
        };
        println!(
            "| {stage} | {rt:.3} | {inner:.3} | {bg_rt:.5} | {bg:.4} | {} |",
            if rt <= 1.0 + LOOK_UPS_NOT_CACHED {
                "yes"
            } else {
                "**no**"
            }
        );
        before = Some(run);
    }
    println!(
        "| health, on a `GET /health` probe | {:.3} | {:.3} | {:.5} | {:.4} | {} |",
        probe.round_trips(),
        probe.inner(),
        probe.background_round_trips(),
        probe.background(),
        if probe.round_trips() <= 1.0 + LOOK_UPS_NOT_CACHED {
            "yes"
        } else {
            "**no**"
        }
    );
    if let Some(full) = runs.last() {
        println!(
            "\nfull pipeline: {:.3} round trips per admitted request on the request path, one after another",
            full.round_trips()
        );
    }
}

pub(crate) fn report_raw(runs: &[Run], probe: &Run) {
    println!("\n### Commands counted (INFO commandstats), per configuration\n");
    for run in runs.iter().chain([probe]) {
        let c = &run.commands;
        println!(
            "{} ({} requests, {} attempt(s){}):",
            run.name,
            run.requests,
            run.attempts,
            if run.disturbed {
                ", other clients were active: counts may include theirs"
            } else {
                ""
            }
        );
        println!(
            "  request path, top level: {}",
            show(&c.request, run.requests)
        );
        println!(
            "  request path, in scripts: {}",
            show(&c.inner, run.requests)
        );
        println!(
            "  background: {} ({} usage flush calls, {} key cache polls, {} audit batches)",
            show(&c.background, run.requests),
            c.flush_calls,
            c.cache_polls,
            c.audit_batches
        );
        println!(
            "  forced after the run: {}",
            show(&run.forced, run.requests)
        );
    }
}
