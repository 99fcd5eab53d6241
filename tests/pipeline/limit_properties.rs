//! The limiter against an exact sliding log (section 5): strict on every trace, and at least 95%
//! as generous as the exact log on each family of traces, over several window lengths. Also many
//! threads on one key, and the bad inputs: limit 0, the largest limits, a clock going backwards,
//! a million distinct keys.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memorysync_pipeline::clock::Timestamp;
use std::time::Duration;

use memorysync_pipeline::limit::{Limits, SlidingWindowLimiter, Windows};
use proptest::prelude::*;

/// The window lengths the properties and the accuracy figures run over, in seconds: the
/// defaults, and longer ones that tolerate bursts.
const WINDOWS: [(u64, u64); 4] = [(1, 60), (4, 60), (10, 600), (60, 3_600)];

fn windows(rps_secs: u64, rpm_secs: u64) -> Windows {
    Windows::new(Duration::from_secs(rps_secs), Duration::from_secs(rpm_secs)).unwrap()
}

/// A window's quota and length in ms, when it is limited. The quota is worked out here from
/// the contract (rate × length, per minute rounded down and at least 1 for a positive rate),
/// not taken from the code under test.
fn per_second(limits: Limits) -> (Option<u32>, i64) {
    let secs = limits.windows.rps_window().as_secs();
    let quota = limits.per_second.map(|rate| capped(u64::from(rate) * secs));
    (quota, secs as i64 * 1_000)
}

fn per_minute(limits: Limits) -> (Option<u32>, i64) {
    let secs = limits.windows.rpm_window().as_secs();
    let quota = limits.per_minute.map(|rate| match rate {
        0 => 0,
        rate => capped((u64::from(rate) * secs / 60).max(1)),
    });
    (quota, secs as i64 * 1_000)
}

fn capped(quota: u64) -> u32 {
    u32::try_from(quota).unwrap_or(u32::MAX)
}

/// One request: which key, when (ms).
type Trace = Vec<(u32, i64)>;

/// The reference: an exact sliding log per key and window.
#[derive(Default)]
struct ExactLog {
    second: VecDeque<i64>,
    minute: VecDeque<i64>,
}

impl ExactLog {
    fn admit(&mut self, limits: Limits, now: i64) -> bool {
        let fits = |log: &mut VecDeque<i64>, limit: Option<u32>, length: i64| {
            while log.front().is_some_and(|t| *t <= now - length) {
                log.pop_front();
            }
            limit.is_none_or(|l| (log.len() as u64) < u64::from(l))
        };
        let ((second, second_ms), (minute, minute_ms)) = (per_second(limits), per_minute(limits));
        let admitted =
            fits(&mut self.second, second, second_ms) & fits(&mut self.minute, minute, minute_ms);
        if admitted {
            self.second.push_back(now);
            self.minute.push_back(now);
        }
        admitted
    }
}

/// Runs `trace` through the limiter and the exact log; returns the admitted times per key of
/// each, after checking that the limiter never broke a window.
fn run(trace: &Trace, limits: Limits) -> (u64, u64) {
    let limiter = SlidingWindowLimiter::new(1 << 16);
    let mut exact: Vec<ExactLog> = Vec::new();
    let mut admitted: Vec<Vec<i64>> = Vec::new();
    let (mut ours, mut theirs) = (0, 0);
    for &(key, at) in trace {
        let key = key as usize;
        if exact.len() <= key {
            exact.resize_with(key + 1, ExactLog::default);
            admitted.resize_with(key + 1, Vec::new);
        }
        if limiter
            .check(&key, limits, Timestamp::from_unix_millis(at))
            .admitted
        {
            ours += 1;
            admitted[key].push(at);
        }
        theirs += u64::from(exact[key].admit(limits, at));
    }
    let ((second, second_ms), (minute, minute_ms)) = (per_second(limits), per_minute(limits));
    for times in &admitted {
        assert_strict(times, second, second_ms);
        assert_strict(times, minute, minute_ms);
    }
    (ours, theirs)
}

/// No interval `(t - length, t]` holds more than `limit` of `times` (sorted).
fn assert_strict(times: &[i64], limit: Option<u32>, length: i64) {
    let Some(limit) = limit else { return };
    let limit = limit as usize;
    for (i, t) in times.iter().enumerate() {
        if i >= limit {
            let earlier = times[i - limit];
            assert!(
                *t - earlier >= length,
                "{} admissions within {length} ms: {earlier}..={t}",
                limit + 1
            );
        }
    }
}

/// A small deterministic generator for the accuracy runs (no dependency, same numbers on every
/// machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// ----- trace families, shared by the property tests and the accuracy figures -----

fn uniform(gap_ms: i64, count: usize) -> Trace {
    (0..count).map(|i| (0, i as i64 * gap_ms)).collect()
}

fn bursty(rng: &mut Rng, count: usize, max_burst: u64, max_gap_ms: u64) -> Trace {
    let mut trace = Vec::with_capacity(count);
    let mut at = 0i64;
    while trace.len() < count {
        let burst = 1 + rng.below(max_burst);
        for _ in 0..burst {
            trace.push((0, at + rng.below(3) as i64));
        }
        at += 1 + rng.below(max_gap_ms) as i64;
    }
    trace.sort_by_key(|(_, t)| *t);
    trace.truncate(count);
    trace
}

/// Bursts placed just before and just after window boundaries, where a fixed window would
/// admit twice its limit.
fn edge_bursts(rng: &mut Rng, count: usize, burst: u64, length: i64) -> Trace {
    let mut trace = Vec::with_capacity(count);
    let mut boundary = length;
    while trace.len() < count {
        for _ in 0..burst {
            trace.push((0, boundary - 1 - rng.below(3) as i64));
            trace.push((0, boundary + rng.below(3) as i64));
        }
        boundary += length;
    }
    trace.sort_by_key(|(_, t)| *t);
    trace.truncate(count);
    trace
}

fn many_keys(rng: &mut Rng, count: usize, keys: u64, span_ms: u64) -> Trace {
    let mut trace: Trace = (0..count)
        .map(|_| (rng.below(keys) as u32, rng.below(span_ms) as i64))
        .collect();
    trace.sort_by_key(|(_, t)| *t);
    trace
}

fn standing_still(count: usize, keys: u32) -> Trace {
    (0..count).map(|i| (i as u32 % keys, 5_000)).collect()
}

fn limits_strategy() -> impl Strategy<Value = Limits> {
    (
        prop::option::of(1u32..60),
        prop::option::of(1u32..700),
        prop::sample::select(&WINDOWS[..]),
    )
        .prop_map(|(s, m, (rps, rpm))| Limits::new(s, m).with_windows(windows(rps, rpm)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn strict_on_uniform_traces(limits in limits_strategy(), gap in 1i64..400, count in 1usize..3000) {
        run(&uniform(gap, count), limits);
    }

    #[test]
    fn strict_on_bursty_traces(limits in limits_strategy(), seed in 1u64.., burst in 1u64..200, gap in 1u64..5000) {
        run(&bursty(&mut Rng(seed), 3000, burst, gap), limits);
    }

    #[test]
    fn strict_on_bursts_at_window_edges(limits in limits_strategy(), seed in 1u64.., burst in 1u64..400, minute in any::<bool>()) {
        let length = if minute { per_minute(limits).1 } else { per_second(limits).1 };
        run(&edge_bursts(&mut Rng(seed), 3000, burst, length), limits);
    }

    #[test]
    fn strict_with_many_keys(limits in limits_strategy(), seed in 1u64.., keys in 1u64..500, span in 1u64..600_000) {
        run(&many_keys(&mut Rng(seed), 3000, keys, span), limits);
    }

    #[test]
    fn strict_with_the_clock_standing_still(limits in limits_strategy(), count in 1usize..3000, keys in 1u32..20) {
        let (ours, theirs) = run(&standing_still(count, keys), limits);
        // At one instant nothing expires: both admit exactly the limit per key.
        prop_assert_eq!(ours, theirs);
    }
}

/// Admitted by us over admitted by the exact log, summed over many traces of a family.
fn accuracy(family: &str, traces: impl Iterator<Item = (Trace, Limits)>) -> f64 {
    let (mut ours, mut theirs) = (0u64, 0u64);
    let mut worst = f64::INFINITY;
    for (trace, limits) in traces {
        let (o, t) = run(&trace, limits);
        ours += o;
        theirs += t;
        if t >= 100 {
            worst = worst.min(o as f64 / t as f64);
        }
    }
    let ratio = ours as f64 / theirs as f64;
    println!(
        "accuracy {family}: {:.4} of an exact sliding log overall, worst trace {:.4} ({ours}/{theirs})",
        ratio, worst
    );
    ratio
}

/// Limits mixed as a deployment would: small rps (exact) with larger rpm (grouped), and the
/// other way round.
fn random_limits(rng: &mut Rng) -> Limits {
    match rng.below(3) {
        0 => Limits::new(
            Some(1 + rng.below(50) as u32),
            Some(30 + rng.below(2000) as u32),
        ),
        1 => Limits::new(None, Some(21 + rng.below(3000) as u32)),
        _ => Limits::new(Some(21 + rng.below(500) as u32), None),
    }
}

/// The gap that offers `load` times the tighter limit's rate.
fn gap_for(limits: Limits, load: f64) -> i64 {
    let per_ms = [per_second(limits), per_minute(limits)]
        .into_iter()
        .filter_map(|(quota, length)| Some(f64::from(quota?) / length as f64))
        .fold(f64::INFINITY, f64::min);
    ((1.0 / (per_ms * load)).round() as i64).max(1)
}

#[test]
fn accuracy_is_at_least_95_percent_of_an_exact_log_per_family_and_window() {
    for (rps_secs, rpm_secs) in WINDOWS {
        println!("windows rps {rps_secs} s, rpm {rpm_secs} s:");
        accuracy_over(windows(rps_secs, rpm_secs));
    }
}

fn accuracy_over(windows: Windows) {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut cases = |n: usize| -> Vec<Limits> {
        (0..n)
            .map(|_| random_limits(&mut rng).with_windows(windows))
            .collect()
    };
    let limits = cases(60);
    let loads = [0.9, 1.0, 1.1, 1.5, 2.0, 4.0];

    let uniform_ratio = accuracy(
        "uniform",
        limits.iter().enumerate().map(|(i, l)| {
            let load = loads[i % loads.len()];
            (uniform(gap_for(*l, load), 4000), *l)
        }),
    );
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let bursty_ratio = accuracy(
        "bursty",
        limits
            .iter()
            .map(|l| (bursty(&mut rng, 4000, 60, 2_000), *l))
            .collect::<Vec<_>>()
            .into_iter(),
    );
    let mut rng = Rng(0x5eed_1234_abcd_0003);
    let edge_ratio = accuracy(
        "bursts at window edges",
        limits
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let length = if i % 2 == 0 {
                    per_second(*l).1
                } else {
                    per_minute(*l).1
                };
                (edge_bursts(&mut rng, 4000, 100, length), *l)
            })
            .collect::<Vec<_>>()
            .into_iter(),
    );
    let mut rng = Rng(0x5eed_1234_abcd_0004);
    let keys_ratio = accuracy(
        "many keys",
        limits
            .iter()
            .map(|l| (many_keys(&mut rng, 6000, 50, 300_000), *l))
            .collect::<Vec<_>>()
            .into_iter(),
    );
    let still_ratio = accuracy(
        "clock standing still",
        limits.iter().map(|l| (standing_still(3000, 7), *l)),
    );
    for (family, ratio) in [
        ("uniform", uniform_ratio),
        ("bursty", bursty_ratio),
        ("edges", edge_ratio),
        ("many keys", keys_ratio),
        ("standing still", still_ratio),
    ] {
        assert!(ratio >= 0.95, "{family}: {ratio:.4} of an exact log");
        assert!(
            ratio <= 1.0,
            "{family}: admitted more than an exact log: {ratio:.4}"
        );
    }
}

#[test]
fn threads_hammering_one_key_at_a_fixed_clock_get_exactly_the_limit() {
    for (limits, expected) in [
        (Limits::new(Some(50), Some(1000)), 50),
        (Limits::new(Some(5000), Some(700)), 700),
        (Limits::new(None, Some(12_345)), 12_345),
    ] {
        let limiter = Arc::new(SlidingWindowLimiter::default());
        let admitted = Arc::new(AtomicU64::new(0));
        let now = Timestamp::from_unix_millis(1_800_000_000_000);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, admitted) = (limiter.clone(), admitted.clone());
                std::thread::spawn(move || {
                    for _ in 0..5_000 {
                        if limiter.check("key_hot", limits, now).admitted {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::Relaxed), expected, "{limits:?}");
    }
}

#[test]
fn a_limit_of_zero_refuses_everything_with_the_window_as_retry_after() {
    let limiter = SlidingWindowLimiter::default();
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let decision = limiter.check("k", Limits::new(Some(0), None), now);
    assert!(!decision.admitted);
    assert_eq!(decision.retry_after_secs, 1);
    let decision = limiter.check("k", Limits::new(Some(10), Some(0)), now);
    assert!(!decision.admitted);
    assert_eq!(decision.retry_after_secs, 60);
}

#[test]
fn the_largest_limits_admit_without_overflow() {
    let limiter = SlidingWindowLimiter::default();
    let limits = Limits::new(Some(u32::MAX), Some(u32::MAX));
    for i in 0..100_000 {
        let decision = limiter.check("k", limits, Timestamp::from_unix_millis(i / 10));
        assert!(decision.admitted);
        assert_eq!(
            decision.per_minute.unwrap().remaining,
            u64::from(u32::MAX) - (i as u64 + 1)
        );
    }
}

#[test]
fn a_clock_going_backwards_never_frees_capacity() {
    let limiter = SlidingWindowLimiter::default();
    let limits = Limits::new(Some(3), Some(5));
    let t = 1_800_000_000_000;
    let at = |ms: i64| Timestamp::from_unix_millis(ms);
    for _ in 0..3 {
        assert!(limiter.check("k", limits, at(t)).admitted);
    }
    for back in [1, 999, 60_000, 3_600_000, t] {
        assert!(
            !limiter.check("k", limits, at(t - back)).admitted,
            "{back} ms back"
        );
    }
    assert!(limiter.check("k", limits, at(t + 1_000)).admitted);
    assert!(limiter.check("k", limits, at(t + 1_000)).admitted);
    // 5 per minute now spent, whatever the clock says.
    assert!(!limiter.check("k", limits, at(t + 2_000)).admitted);
    assert!(!limiter.check("k", limits, at(0)).admitted);
    assert!(!limiter.check("k", limits, at(i64::MIN)).admitted);
    assert!(limiter.check("k", limits, at(t + 60_000)).admitted);
}

#[test]
fn a_million_distinct_keys_never_grow_past_the_bound() {
    let bound = 10_000;
    let limiter = SlidingWindowLimiter::new(bound);
    let limits = Limits::new(Some(10), Some(100));
    let mut refused_new = 0u32;
    for i in 0..1_000_000u64 {
        // 100 new keys per ms: ten seconds of a flood, every key still active when the bound
        // is reached.
        let now = Timestamp::from_unix_millis(1_800_000_000_000 + (i / 100) as i64);
        if !limiter.check(&i, limits, now).admitted {
            refused_new += 1;
        }
        assert!(limiter.tracked_keys() <= bound);
    }
    assert_eq!(
        refused_new,
        1_000_000 - bound as u32,
        "every key past the bound is refused"
    );
    // A minute later the flood is idle: it is swept out and new keys are served again.
    let later = Timestamp::from_unix_millis(1_800_000_000_000 + 10_000 + 60_000);
    assert!(limiter.check("key_after_the_flood", limits, later).admitted);
    assert!(limiter.tracked_keys() <= 1);
}

#[test]
fn reaching_the_bound_never_admits_what_the_limits_refuse() {
    let limiter = SlidingWindowLimiter::new(2);
    let limits = Limits::new(Some(1), None);
    let now = Timestamp::from_unix_secs(1_800_000_000);
    assert!(limiter.check("a", limits, now).admitted);
    assert!(limiter.check("b", limits, now).admitted);
    let third = limiter.check("c", limits, now);
    assert!(!third.admitted && third.at_capacity);
    // The keys already tracked keep their state: still refused.
    assert!(!limiter.check("a", limits, now).admitted);
    assert!(!limiter.check("b", limits, now).admitted);
}
