//! With the `axum` feature, the health route tells clients apart by axum's `ConnectInfo`, with no
//! `ClientAddr` mapping in between.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::health::HealthRouteLayer;
use tower::ServiceExt;

fn probe(from: [u8; 4]) -> http::Request<Body> {
    http::Request::get("/health")
        .extension(ConnectInfo(SocketAddr::from((from, 40_000))))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn connect_info_addresses_get_their_own_health_windows() {
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    let app = Router::new()
        .route("/", get(|| async { "inner" }))
        .layer(HealthRouteLayer::new().with_clock(clock));
    for _ in 0..5 {
        assert_eq!(
            app.clone()
                .oneshot(probe([192, 0, 2, 1]))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        app.clone()
            .oneshot(probe([192, 0, 2, 1]))
            .await
            .unwrap()
            .status(),
        429
    );
    assert_eq!(
        app.oneshot(probe([192, 0, 2, 2])).await.unwrap().status(),
        200
    );
}
