//! The health route under a flood of client addresses: a load balancer's steady prober keeps
//! its own window while 70,000 other addresses hit `/health`, newcomers past the table's bound
//! share one overflow window, and probers in `[health] exempt` are never limited. In-process
//! calls on a manual clock; nothing listens, nothing sleeps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::common::T0;
use http::{Request, StatusCode};
use memorysync_pipeline::ClientAddr;
use memorysync_pipeline::clock::ManualClock;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::health::HealthRouteLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

const FLOOD: u32 = 70_000;

fn probe(ip: IpAddr) -> Request<String> {
    Request::get("/health")
        .extension(ClientAddr(SocketAddr::new(ip, 40_000)))
        .body(String::new())
        .unwrap()
}

/// The `n`th flooding address: 100.0.0.0 onwards, never the prober's.
fn flooder(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from_bits(0x6400_0000 + n))
}

type Probed = dyn Fn(IpAddr) -> std::pin::Pin<Box<dyn Future<Output = StatusCode>>>;

fn health_route(layer: HealthRouteLayer) -> Box<Probed> {
    let service = layer.layer(service_fn(|_: Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    Box::new(move |ip| {
        let mut service = service.clone();
        Box::pin(async move {
            let ready = service.ready().await.unwrap();
            ready.call(probe(ip)).await.unwrap().status()
        })
    })
}

/// One second of flood: every flooding address once, spread evenly over the second.
async fn flood_for_a_second(health: &Probed, clock: &ManualClock) -> (u32, u32) {
    let (mut admitted, mut refused) = (0, 0);
    for n in 0..FLOOD {
        if n % 70 == 69 {
            clock.advance(Duration::from_millis(1));
        }
        match health(flooder(n)).await {
            StatusCode::OK => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("flooder {n}: {other}"),
        }
    }
    (admitted, refused)
}

#[tokio::test]
async fn a_flood_of_addresses_cannot_starve_a_steady_prober() {
    let clock = ManualClock::new(T0);
    let health = health_route(HealthRouteLayer::new().with_clock(clock.clone()));
    let prober = IpAddr::from([203, 0, 113, 7]);
    assert_eq!(health(prober).await, StatusCode::OK);
    for round in 0..3 {
        // The prober probes every 2 s, so its window is empty whenever the flood peaks.
        clock.advance(Duration::from_secs(1));
        let (admitted, refused) = flood_for_a_second(&health, &clock).await;
        assert_eq!(health(prober).await, StatusCode::OK, "round {round}");
        // Past the table, newcomers share one window of 5 a second: most of them are refused.
        assert!(refused > 4_000, "round {round}: {refused} refused");
        assert!(admitted < 66_000, "round {round}: {admitted} admitted");
    }
}

#[tokio::test]
async fn exempt_probers_are_never_limited_even_when_they_arrive_during_a_flood() {
    let clock = ManualClock::new(T0);
    let config = Config::from_toml(
        "environment = \"development\"\n[health]\nexempt = [\"10.20.0.0/16\", \"2001:db8:1::7\"]\n",
    )
    .unwrap();
    let layer = config.health_layer().with_clock(clock.clone());
    let health = health_route(layer);
    flood_for_a_second(&health, &clock).await;
    for prober in [
        IpAddr::from([10, 20, 3, 4]),
        "2001:db8:1::7".parse().unwrap(),
    ] {
        for _ in 0..50 {
            assert_eq!(health(prober).await, StatusCode::OK, "{prober}");
        }
    }
    // A newcomer outside the exempt networks shares the exhausted overflow window.
    assert_eq!(
        health(IpAddr::from([10, 21, 0, 1])).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}
