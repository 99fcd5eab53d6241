//! The Redis rate-limit script against the in-memory limiter: the same rule, so on every trace
//! the two make the same decision, request by request.

use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::limit::{Limits, SlidingWindowLimiter, Windows};
use memorysync_pipeline::redis_store::{RedisConnection, RedisRateLimitStore};

use crate::common::redis::{clean_up, connect, test_url};

fn windows(rps_secs: u64, rpm_secs: u64) -> Windows {
    let length = std::time::Duration::from_secs;
    Windows::new(length(rps_secs), length(rpm_secs)).unwrap()
}

/// A deterministic trace: bursts, gaps, a window edge and a clock that goes back.
fn trace(seed: u64, len: usize) -> Vec<(u8, i64)> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut at = 1_800_000_000_000i64;
    (0..len)
        .map(|_| {
            let roll = next() % 100;
            at += match roll {
                0..=59 => 0,                        // burst at one instant
                60..=89 => (next() % 50) as i64,    // close together
                90..=97 => (next() % 3_000) as i64, // gaps past the second window
                _ => -((next() % 2_000) as i64),    // the clock jumps back
            };
            ((next() % 3) as u8, at)
        })
        .collect()
}

#[tokio::test]
async fn the_script_decides_exactly_like_the_in_memory_limiter() {
    let Some(connection) = connect("same-rule").await else {
        return;
    };
    let store = RedisRateLimitStore::new(connection.clone());
    for (seed, limits) in [
        (1, Limits::new(Some(3), Some(20))),
        (2, Limits::new(Some(50), Some(70))),
        (3, Limits::new(None, Some(45))),
        (4, Limits::new(Some(25), None)),
        (5, Limits::new(Some(0), Some(5))),
        // Longer windows: rates over 4 s and 10 min, over 1 min and 1 h (group ends then in
        // 2 ms and 128 ms units), over 1 h and 24 h.
        (
            6,
            Limits::new(Some(5), Some(30)).with_windows(windows(4, 600)),
        ),
        (
            7,
            Limits::new(Some(2), Some(3)).with_windows(windows(60, 3_600)),
        ),
        (
            8,
            Limits::new(Some(1), Some(1)).with_windows(windows(3_600, 86_400)),
        ),
    ] {
        let memory = SlidingWindowLimiter::default();
        for (i, (key, at)) in trace(seed, 600).into_iter().enumerate() {
            let key_id = format!("key_{seed}_{key}");
            let now = Timestamp::from_unix_millis(at);
            let ours = memory.check(key_id.as_str(), limits, now);
            let theirs = store.check_at(&key_id, limits, now).await.unwrap();
            assert_eq!(theirs, ours, "seed {seed}, request {i} of {key_id} at {at}");
        }
    }
    clean_up(&connection).await;
}

#[tokio::test]
async fn a_key_whose_windows_change_keeps_them_the_same_way_in_both() {
    let Some(connection) = connect("window-change").await else {
        return;
    };
    let store = RedisRateLimitStore::new(connection.clone());
    let memory = SlidingWindowLimiter::default();
    let short = Limits::new(Some(3), Some(20));
    let long = Limits::new(Some(3), Some(20)).with_windows(windows(4, 120));
    for (i, (key, at)) in trace(9, 600).into_iter().enumerate() {
        // The key's record is edited back and forth every 40 requests.
        let limits = if (i / 40) % 2 == 0 { short } else { long };
        let key_id = format!("key_9_{key}");
        let now = Timestamp::from_unix_millis(at);
        let ours = memory.check(key_id.as_str(), limits, now);
        let theirs = store.check_at(&key_id, limits, now).await.unwrap();
        assert_eq!(theirs, ours, "request {i} of {key_id} at {at}");
    }
    clean_up(&connection).await;
}

/// Instances with other default windows serving one key (a rolling restart that changes
/// `[limits]`): the window length goes back and forth request by request, and the key is still
/// held to the larger quota, in memory and on Redis alike.
#[tokio::test]
async fn windows_that_alternate_request_by_request_never_free_the_key() {
    let Some(connection) = connect("window-alternation").await else {
        return;
    };
    let store = RedisRateLimitStore::new(connection.clone());
    let memory = SlidingWindowLimiter::default();
    // 3 a second over 1 s (quota 3) and over 2 s (quota 6).
    let one = Limits::new(Some(3), None);
    let two = Limits::new(Some(3), None).with_windows(windows(2, 60));
    let now = Timestamp::from_unix_millis(1_800_000_000_000);
    let (mut in_memory, mut on_redis) = (0, 0);
    for i in 0..100 {
        let limits = if i % 2 == 0 { one } else { two };
        in_memory += u32::from(memory.check("key_alternating", limits, now).admitted);
        on_redis += u32::from(
            store
                .check_at("key_alternating", limits, now)
                .await
                .unwrap()
                .admitted,
        );
    }
    assert_eq!((in_memory, on_redis), (6, 6));
    clean_up(&connection).await;
}

#[tokio::test]
async fn two_stores_on_one_redis_enforce_one_limit() {
    let Some(connection) = connect("shared").await else {
        return;
    };
    // Two instances: two stores over two connections to the same Redis and prefix.
    let url = test_url().unwrap();
    let other = RedisConnection::connect(&url, connection.options().clone())
        .await
        .unwrap();
    let (a, b) = (
        RedisRateLimitStore::new(connection.clone()),
        RedisRateLimitStore::new(other),
    );
    let limits = Limits::new(Some(10), Some(100));
    let now = Timestamp::from_unix_millis(1_800_000_000_000);
    let mut admitted = 0;
    for i in 0..40 {
        let store = if i % 2 == 0 { &a } else { &b };
        admitted += u32::from(
            store
                .check_at("key_shared", limits, now)
                .await
                .unwrap()
                .admitted,
        );
    }
    assert_eq!(admitted, 10);
    clean_up(&connection).await;
}

/// `a.b` and `x612e62` once shared one Redis key: the second key got 429s it never earned.
#[tokio::test]
async fn distinct_key_ids_never_share_a_rate_limit_window() {
    let Some(connection) = connect("distinct-ids").await else {
        return;
    };
    let store = RedisRateLimitStore::new(connection.clone());
    let limits = Limits::new(Some(2), Some(2));
    let now = Timestamp::from_unix_millis(1_800_000_000_000);
    for key_id in ["a.b", "x612e62"] {
        let mut admitted = Vec::new();
        for _ in 0..3 {
            admitted.push(store.check_at(key_id, limits, now).await.unwrap().admitted);
        }
        assert_eq!(
            admitted,
            [true, true, false],
            "{key_id} has a window of its own"
        );
    }
    clean_up(&connection).await;
}

#[tokio::test]
async fn on_redis_a_burst_of_21_every_4_s_over_a_4_s_window_admits_the_first_20_every_time() {
    let Some(connection) = connect("burst-window").await else {
        return;
    };
    let store = RedisRateLimitStore::new(connection.clone());
    let limits = Limits::new(Some(5), None).with_windows(windows(4, 60));
    let start = 1_800_000_000_000i64;
    let mut admitted = Vec::new();
    for burst in 0..6 {
        let at = start + burst * 4_000;
        for i in 0..21 {
            let now = Timestamp::from_unix_millis(at);
            let decision = store.check_at("key_burst", limits, now).await.unwrap();
            let window = decision.per_second.unwrap();
            assert_eq!((window.limit, window.window_secs), (20, 4));
            if i < 20 {
                assert!(decision.admitted, "burst {burst}, request {i}");
                admitted.push(at);
            } else {
                assert!(!decision.admitted, "burst {burst}: the 21st");
                assert_eq!(decision.retry_after_secs, 4);
            }
        }
    }
    // No 4 s interval holds more than 20.
    for (i, t) in admitted.iter().enumerate().skip(20) {
        assert!(t - admitted[i - 20] >= 4_000);
    }
    clean_up(&connection).await;
}
