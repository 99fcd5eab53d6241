//! `KeyStore::record`, the same on every key store: a record read back by its id exactly as
//! stored (windows included), revoked ones with `revoked_at`, `None` for an id no record has; a
//! change of a window alone is a change. Included by path in
//! each test binary that holds a backend.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::key::{KeyHash, KeyRecord, KeyStore, RecordOwner, Upserted};

fn hash(n: u8) -> KeyHash {
    KeyHash::from_bytes([n; 32])
}

/// Runs the suite on `store`, with records whose hashes start at `n` (so that two runs on one
/// store stay apart) and ids ending in `tag`.
pub(crate) async fn record_suite<S: KeyStore>(store: &S, now: Timestamp, n: u8, tag: &str) {
    let id = |name: &str| format!("key_{name}_{tag}");
    assert_eq!(store.record(&id("a")).await.unwrap(), None, "no record yet");

    // Every field comes back as stored.
    let a = KeyRecord::new(id("a"), hash(n), "proj_a", Environment::Production)
        .with_limits(Some(7), Some(70))
        .with_windows(Some(Duration::from_secs(4)), Some(Duration::from_secs(600)))
        .with_expiry(now.saturating_add(Duration::from_secs(86_400)));
    store.insert(a.clone(), now).await.unwrap();
    assert_eq!(store.record(&id("a")).await.unwrap(), Some(a.clone()));

    // A file-owned record, rehashed by an upsert: the record under its new hash.
    let filed = KeyRecord::new(id("f"), hash(n + 1), "proj_a", Environment::Development)
        .with_owner(RecordOwner::Config);
    assert_eq!(store.upsert(filed.clone(), now).await, Ok(Upserted::Added));
    let rehashed = KeyRecord {
        sha256: hash(n + 2),
        rps: Some(3),
        ..filed
    };
    assert_eq!(
        store.upsert(rehashed.clone(), now).await,
        Ok(Upserted::Changed)
    );
    assert_eq!(
        store.record(&id("f")).await.unwrap(),
        Some(rehashed.clone())
    );

    // A window set, then cleared (back to the deployment's default): each is a change.
    let windowed = rehashed
        .clone()
        .with_windows(None, Some(Duration::from_secs(120)));
    assert_eq!(
        store.upsert(windowed.clone(), now).await,
        Ok(Upserted::Changed)
    );
    assert_eq!(
        store.upsert(windowed.clone(), now).await,
        Ok(Upserted::Unchanged)
    );
    assert_eq!(store.record(&id("f")).await.unwrap(), Some(windowed));
    assert_eq!(
        store.upsert(rehashed.clone(), now).await,
        Ok(Upserted::Changed)
    );
    assert_eq!(store.record(&id("f")).await.unwrap(), Some(rehashed));

    // Revoked: still there, with the instant it was revoked.
    let at = now.saturating_add(Duration::from_secs(5));
    store.revoke(&id("a"), at).await.unwrap();
    let revoked = KeyRecord {
        revoked_at: Some(at),
        ..a
    };
    assert_eq!(store.record(&id("a")).await.unwrap(), Some(revoked));

    // Ids that an escaping could confuse stay apart.
    let colon = KeyRecord::new(id("x:y"), hash(n + 3), "proj_a", Environment::Development);
    store.insert(colon.clone(), now).await.unwrap();
    assert_eq!(store.record(&id("x:y")).await.unwrap(), Some(colon));
    assert_eq!(store.record(&id("x%3Ay")).await.unwrap(), None);
    assert_eq!(store.record(&id("x")).await.unwrap(), None);
}
