//! Two instances of the server sharing one Redis: one rate limit and one quota between them,
//! and each alert fired once. The server keeps its keys under the default prefix, so the test
//! runs on a `redis-server` of its own rather than on the shared test Redis.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::quota::QuotaAlert;

use crate::test_redis::RedisServer;

#[tokio::test]
async fn two_instances_share_one_rate_limit_one_quota_and_each_alert_fires_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.until_answers().await;
    let url = redis.url();
    let key = ApiKey::generate(Environment::Development).unwrap();
    let text = format!(
        "environment = \"development\"\n\
         [store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n\
         [[projects]]\nid = \"proj_shared\"\nadds_per_month = 3\nqueries_per_month = 1000\n\
         [[keys]]\nid = \"key_shared\"\nsha256 = \"{}\"\nproject = \"proj_shared\"\nenvironment = \"development\"\nrpm = 8\n",
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let alerts = Arc::new(Mutex::new(Vec::<QuotaAlert>::new()));
    let mut instances = Vec::new();
    for name in ["a", "b"] {
        let sink = alerts.clone();
        let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
        let app = super::app::build_demo(&config, name, clock, move |a| {
            sink.lock().unwrap().push(a.clone())
        })
        .await
        .unwrap();
        instances.push(super::testing::serve(app, config.clone(), None).await);
    }
    let instances: Vec<_> = instances.iter().map(|served| served.client()).collect();
    let auth = format!("Bearer {}", key.expose_secret());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-project-id", "proj_shared"),
    ];

    // Six adds, alternating instances: the quota of 3 holds across both.
    let mut stored = 0;
    for n in 0..6 {
        let body = format!(r#"{{"text":"memory {n}"}}"#);
        let (status, answer) = instances[n % 2]
            .send("POST", "/v1/memories", &headers, &body)
            .await;
        assert_eq!(status, 200);
        stored += answer["results"].as_array().unwrap().len();
    }
    assert_eq!(stored, 3, "the quota was exceeded across instances");
    let fired: Vec<u8> = alerts.lock().unwrap().iter().map(|a| a.threshold).collect();
    assert_eq!(
        fired,
        [75, 90, 100],
        "each alert once across both instances"
    );

    // 8 a minute: six requests were spent on adds, so two more pass, across both instances.
    let mut statuses = Vec::new();
    for n in 0..6 {
        statuses.push(
            instances[n % 2]
                .send("GET", "/v1/memories", &headers, "")
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 429, 429, 429, 429]);
}
