//! The Redis rate-limit script against the in-memory limiter: the same rule, so on every trace
//! the two make the same decision, request by request.

use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::limit::{Limits, SlidingWindowLimiter};
use memorysync_pipeline::redis_store::{RedisConnection, RedisRateLimitStore};

use crate::common::redis::{clean_up, connect, test_url};

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
