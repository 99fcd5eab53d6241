//! `ApiKeyAuth` over a `MemoryKeyStore`: every way a key is refused, what an admitted request
//! carries inward, usage counting, tombstones, and secrets kept out of bodies and `Debug`.

use std::time::Duration;

use crate::common::{
    Fixture, KEY_ID, PROJECT, Reply, T0, assert_problem, get_raw, get_with, recording_service,
    send, with_checksum,
};
use http::Request;
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::ApiKeyAuthLayer;
use memorysync_pipeline::key::{KeyRecord, KeyStore, KeyStoreError, KeyUsage, MemoryKeyStore};
use tower::Layer;

const MALFORMED: &str = "malformed_api_key";

fn x_api_key(text: &str) -> Request<String> {
    get_with(&[("x-api-key", text)])
}

fn authorization(value: &str) -> Request<String> {
    get_with(&[("authorization", value)])
}

fn both_headers(authorization: &str, x_api_key: &str) -> Request<String> {
    get_with(&[("authorization", authorization), ("x-api-key", x_api_key)])
}

/// Sends `request` through the fixture's auth layer in a production deployment.
async fn through_production(fixture: &Fixture, request: Request<String>) -> Reply {
    let layer = ApiKeyAuthLayer::new(fixture.store.clone(), Environment::Production)
        .with_clock(fixture.clock.clone());
    send(layer.layer(recording_service(&fixture.recorder)), request).await
}

/// Refused with 401 and `code` without reaching inside.
async fn assert_refused(fixture: &Fixture, request: Request<String>, code: &str) {
    assert_problem(&fixture.through_auth(request).await, 401, code);
    assert_eq!(fixture.recorder.calls(), 0, "the inner service was called");
}

#[tokio::test]
async fn a_request_without_a_key_is_missing_api_key() {
    let fixture = Fixture::new().await;
    let request = get_with(&[]);
    fixture.assert_refused(request, "missing_api_key").await;
}

#[tokio::test]
async fn different_keys_in_authorization_and_x_api_key_are_malformed() {
    let fixture = Fixture::new().await;
    let other = Fixture::new().await;
    let request = both_headers(&fixture.bearer(), other.secret());
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn the_same_key_in_authorization_and_x_api_key_is_accepted() {
    let fixture = Fixture::new().await;
    let request = both_headers(&fixture.bearer(), fixture.secret());
    fixture.assert_admitted(request).await;
}

#[tokio::test]
async fn bearer_with_nothing_after_it_is_malformed() {
    let fixture = Fixture::new().await;
    let request = authorization("Bearer");
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn bearer_followed_only_by_spaces_is_malformed() {
    let fixture = Fixture::new().await;
    let request = get_raw("authorization", b"Bearer    ");
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn a_lowercase_bearer_scheme_is_accepted() {
    let fixture = Fixture::new().await;
    let value = format!("bearer {}", fixture.secret());
    fixture.assert_admitted(authorization(&value)).await;
}

#[tokio::test]
async fn an_uppercase_bearer_scheme_is_accepted() {
    let fixture = Fixture::new().await;
    let value = format!("BEARER {}", fixture.secret());
    fixture.assert_admitted(authorization(&value)).await;
}

#[tokio::test]
async fn a_basic_scheme_is_malformed() {
    let fixture = Fixture::new().await;
    let request = authorization("Basic xyz");
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn a_key_with_a_wrong_checksum_is_malformed() {
    let fixture = Fixture::new().await;
    let mut text = fixture.secret().to_owned();
    let last = text.pop().unwrap();
    text.push(if last == 'a' { 'b' } else { 'a' });
    fixture.assert_refused(x_api_key(&text), MALFORMED).await;
}

#[tokio::test]
async fn a_key_built_by_hand_with_its_checksum_is_accepted() {
    // Pins the test helper: the wrong-prefix tests below fail on the prefix alone.
    let fixture = Fixture::new().await;
    let rebuilt = with_checksum(&fixture.secret()[..41]);
    assert_eq!(rebuilt, fixture.secret());
    fixture.assert_admitted(x_api_key(&rebuilt)).await;
}

#[tokio::test]
async fn a_key_with_a_wrong_prefix_is_malformed() {
    let fixture = Fixture::new().await;
    for prefix in ["msk_prod_", "xsk_live_", "MSK_test_", "mskXtest_"] {
        let text = with_checksum(&format!("{prefix}{}", &fixture.secret()[9..41]));
        let request = authorization(&format!("Bearer {text}"));
        assert_refused(&fixture, request, MALFORMED).await;
    }
}

#[tokio::test]
async fn a_key_with_a_wrong_tag_is_malformed() {
    let fixture = Fixture::new().await;
    for tag in ["prod", "TEST", "Live", "tset", "dev0"] {
        let text = with_checksum(&format!("msk_{tag}_{}", &fixture.secret()[9..41]));
        let request = x_api_key(&text);
        assert_refused(&fixture, request, MALFORMED).await;
    }
}

#[tokio::test]
async fn a_well_formed_key_that_no_record_matches_is_invalid() {
    let fixture = Fixture::new().await;
    let stranger = Fixture::new().await;
    let request = authorization(&stranger.bearer());
    fixture.assert_refused(request, "invalid_api_key").await;
}

#[tokio::test]
async fn a_revoked_key_is_revoked_api_key() {
    let fixture = Fixture::new().await;
    fixture.store.revoke(KEY_ID, T0).await.unwrap();
    let request = fixture.bearer_request();
    fixture.assert_refused(request, "revoked_api_key").await;
}

#[tokio::test]
async fn a_key_is_expired_from_its_expiry_instant_on() {
    let expires = T0.saturating_add(Duration::from_secs(60));
    let fixture = Fixture::with_key(Environment::Development, |r| r.with_expiry(expires)).await;
    let just_before = expires.saturating_sub(Duration::from_millis(1));
    fixture.clock.set(just_before);
    fixture.assert_admitted(fixture.keyed()).await;

    fixture.clock.set(expires);
    let reply = fixture.through_auth(fixture.keyed()).await;
    assert_problem(&reply, 401, "expired_api_key");
    assert_eq!(fixture.recorder.calls(), 1, "the expired request got in");
}

#[tokio::test]
async fn a_key_whose_tag_disagrees_with_its_record_is_invalid() {
    // A msk_test_ key filed as a production record.
    let fixture = Fixture::with_key(Environment::Development, |mut record| {
        record.environment = Environment::Production;
        record
    })
    .await;
    let request = fixture.bearer_request();
    fixture.assert_refused(request, "invalid_api_key").await;
}

#[tokio::test]
async fn non_utf8_bytes_in_the_key_headers_are_malformed() {
    let fixture = Fixture::new().await;
    let mut key_shaped = b"msk_test_".to_vec();
    key_shaped.extend([0xff; 32]);
    key_shaped.extend(b"000000");
    let request = get_raw("x-api-key", &key_shaped);
    fixture.assert_refused(request, MALFORMED).await;
    let mut bearer = b"Bearer ".to_vec();
    bearer.extend(&key_shaped);
    let request = get_raw("authorization", &bearer);
    fixture.assert_refused(request, MALFORMED).await;
    let request = get_raw("authorization", b"Bearer \xff\xfe\xff");
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn an_8_kib_key_header_is_malformed() {
    let fixture = Fixture::new().await;
    let huge = format!("{}{}", fixture.secret(), "a".repeat(8 * 1024));
    fixture.assert_refused(x_api_key(&huge), MALFORMED).await;
    let bearer = format!("Bearer {huge}");
    let request = authorization(&bearer);
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn the_authorization_header_twice_is_malformed() {
    let fixture = Fixture::new().await;
    let bearer = fixture.bearer();
    let request = get_with(&[("authorization", &bearer), ("authorization", &bearer)]);
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn the_x_api_key_header_twice_is_malformed() {
    let fixture = Fixture::new().await;
    let key = fixture.secret();
    let request = get_with(&[("x-api-key", key), ("x-api-key", key)]);
    fixture.assert_refused(request, MALFORMED).await;
}

#[tokio::test]
async fn a_development_key_cannot_read_production_data() {
    let fixture = Fixture::new().await;
    let reply = through_production(&fixture, fixture.bearer_request()).await;
    assert_problem(&reply, 401, "invalid_api_key");
    assert_eq!(fixture.recorder.calls(), 0, "the inner service was called");
    assert_eq!(fixture.store.usage(KEY_ID).await.unwrap().request_count, 0);
}

#[tokio::test]
async fn problem_details_never_mention_the_msk_prefix() {
    let fixture = Fixture::new().await;
    let wrong_prefix = with_checksum(&format!("msk_prod_{}", &fixture.secret()[9..41]));
    let reply = fixture.through_auth(x_api_key(&wrong_prefix)).await;
    assert_problem(&reply, 401, MALFORMED);

    let reply = through_production(&fixture, fixture.keyed()).await;
    assert_problem(&reply, 401, "invalid_api_key");
    assert_eq!(fixture.recorder.calls(), 0);
}

#[tokio::test]
async fn a_production_key_is_accepted_by_a_production_deployment() {
    let fixture = Fixture::with_key(Environment::Production, |r| r).await;
    let reply = through_production(&fixture, fixture.bearer_request()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(fixture.recorder.calls(), 1);
}

#[tokio::test]
async fn an_admitted_request_carries_its_principal_inward() {
    let fixture = Fixture::with_key(Environment::Production, |r| r).await;
    fixture.assert_admitted(fixture.bearer_request()).await;
    let principal = fixture.recorder.principal().expect("no Principal");
    assert_eq!(principal.key_id(), KEY_ID);
    assert_eq!(principal.project(), PROJECT);
    assert_eq!(principal.environment(), Environment::Production);
}

#[tokio::test]
async fn admitted_requests_count_usage_with_the_clock_time() {
    let fixture = Fixture::new().await;
    for _ in 0..3 {
        fixture.clock.advance(Duration::from_secs(7));
        fixture.assert_admitted(fixture.keyed()).await;
    }
    let usage = fixture.store.usage(KEY_ID).await.unwrap();
    let expected = KeyUsage {
        request_count: 3,
        last_used: Some(T0.saturating_add(Duration::from_secs(21))),
    };
    assert_eq!(usage, expected);
}

#[tokio::test]
async fn rejected_requests_do_not_count_usage() {
    let expires = T0.saturating_add(Duration::from_secs(10));
    let fixture = Fixture::with_key(Environment::Development, |r| r.with_expiry(expires)).await;
    fixture.assert_admitted(fixture.keyed()).await;

    fixture.clock.set(expires);
    let reply = fixture.through_auth(fixture.keyed()).await;
    assert_problem(&reply, 401, "expired_api_key");
    fixture.store.revoke(KEY_ID, expires).await.unwrap();
    let reply = fixture.through_auth(fixture.keyed()).await;
    assert_problem(&reply, 401, "revoked_api_key");

    let usage = fixture.store.usage(KEY_ID).await.unwrap();
    assert_eq!(usage.request_count, 1);
    assert_eq!(usage.last_used, Some(T0));
}

#[tokio::test]
async fn a_revoked_key_record_cannot_be_restored() {
    let fixture = Fixture::new().await;
    let (hash, development) = (fixture.key.hash(), Environment::Development);
    let original = KeyRecord::new(KEY_ID, hash, PROJECT, development);
    let renamed = KeyRecord::new("key_renamed", hash, PROJECT, development);
    fixture.store.revoke(KEY_ID, T0).await.unwrap();
    let later = T0.saturating_add(Duration::from_secs(86_400));
    // The same store, and a fresh one restored from a backup that shares the tombstones.
    let from_backup = MemoryKeyStore::with_tombstones(fixture.store.tombstones().clone());
    for store in [&fixture.store, &from_backup] {
        for record in [&original, &renamed] {
            let restored = store.insert(record.clone(), later).await;
            assert_eq!(restored, Err(KeyStoreError::Tombstoned(record.id.clone())));
        }
    }
    assert!(from_backup.is_empty());
}

#[tokio::test]
async fn problem_bodies_never_contain_the_key() {
    let fixture = Fixture::new().await;
    let stranger = Fixture::new().await;
    let requests = [
        x_api_key(stranger.secret()),
        both_headers(&fixture.bearer(), stranger.secret()),
        authorization(&format!("Basic {}", fixture.secret())),
        x_api_key(&format!("{}x", fixture.secret())),
    ];
    for request in requests {
        let reply = fixture.through_auth(request).await;
        assert_eq!(reply.status, 401);
        assert!(!reply.text().contains("msk_"), "{}", reply.text());
        assert!(!reply.text().contains(&fixture.secret()[9..]));
        assert!(!reply.text().contains(&stranger.secret()[9..]));
    }
    assert_eq!(fixture.recorder.calls(), 0);
}

#[tokio::test]
async fn debug_output_never_shows_the_key_or_its_hash() {
    let fixture = Fixture::new().await;
    fixture.assert_admitted(fixture.keyed()).await;
    let principal = fixture.recorder.principal().unwrap();
    let layer = fixture.auth_layer();
    let service = layer.layer(recording_service(&fixture.recorder));
    let hex = fixture.key.hash().to_hex();
    for shown in [
        format!("{principal:?}"),
        format!("{principal:#?}"),
        format!("{layer:?}"),
        format!("{service:?}"),
        format!("{:?}", fixture.key),
    ] {
        assert!(!shown.contains("msk_"), "{shown}");
        assert!(!shown.contains(&hex), "{shown}");
        assert!(!shown.contains(&hex[..16]), "{shown}");
        assert!(!shown.contains(&fixture.secret()[9..]), "{shown}");
    }
    assert!(format!("{principal:?}").contains(KEY_ID));
}
