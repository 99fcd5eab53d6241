//! The serving limits of `[server]` on a real listener: slow and idle clients are cut, bodies
//! over the limit are refused with 413, and shutdown ends within its grace. These wait on real
//! sockets, with timeouts of a few hundred milliseconds and every wait bounded.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use memorysync_pipeline::Environment;
use memorysync_pipeline::audit::Unwritten;
use memorysync_pipeline::clock::{ManualClock, Timestamp};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::tests::Running;

/// A server of the example's app with `server` as its `[server]` table.
struct Served {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: JoinHandle<Result<(), String>>,
    key: ApiKey,
}

async fn serve(server: &str, audit_dir: Option<&Path>) -> Served {
    let key = ApiKey::generate(Environment::Development).unwrap();
    let audit = audit_dir.map_or(String::new(), |dir| {
        format!("[audit]\ndir = \"{}\"\n", dir.display())
    });
    let text = format!(
        "environment = \"development\"\n\
         [[projects]]\nid = \"proj_demo\"\nadds_per_month = 1\nqueries_per_month = 100\n\
         [[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_demo\"\nenvironment = \"development\"\nrps = 100\nrpm = 1000\n\
         {audit}[server]\n{server}",
        key.hash().to_hex()
    );
    let config = Config::from_toml(&text).unwrap();
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    let app = crate::app::build(&config, false, "test", clock, |_| {})
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        crate::serve_until(listener, app, &config, shutdown).await
    });
    Served {
        addr,
        stop,
        done,
        key,
    }
}

/// Reads until the server closes the connection (or resets it); what it sent before.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
}

async fn health(addr: SocketAddr) -> u16 {
    Running::at(addr).send("GET", "/health", &[], "").await.0
}

#[tokio::test]
async fn a_slow_client_sending_one_header_byte_at_a_time_is_cut_while_health_answers() {
    let served = serve("header_read_timeout_ms = 400\n", None).await;
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = slow.split();
    let trickle = async {
        for byte in b"GET /health HTTP/1.1\r\nHost: loopback\r\nX-Slow: ".iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let closed = async {
        let mut buf = [0u8; 256];
        // The server answers a header timeout by closing, perhaps after a 408.
        while let Ok(n @ 1..) = reader.read(&mut buf).await {
            let _ = n;
        }
    };
    let probes = async {
        for _ in 0..3 {
            assert_eq!(health(served.addr).await, 200);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let cut = async {
        tokio::select! {
            () = trickle => panic!("the slow client was never cut"),
            () = closed => started.elapsed(),
        }
    };
    let (elapsed, ()) = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::join!(cut, probes)
    })
    .await
    .expect("the slow client is cut within seconds");
    assert!(elapsed < Duration::from_millis(1_500), "cut after {elapsed:?}");
    assert_eq!(health(served.addr).await, 200);
}

#[tokio::test]
async fn half_open_connections_are_cut_and_capped_so_a_probe_gets_through() {
    let served = serve("header_read_timeout_ms = 300\nmax_connections = 2\n", None).await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(TcpStream::connect(served.addr).await.unwrap());
    }
    // Two are served at once; the others wait in the backlog, each cut once accepted.
    let probe = tokio::time::timeout(Duration::from_secs(5), health(served.addr)).await;
    assert_eq!(probe.expect("the probe is served once the silent ones are cut"), 200);
    for mut stream in silent {
        let answer = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut stream))
            .await
            .expect("every silent connection is closed");
        assert!(!answer.contains("200 OK"), "{answer}");
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let served = serve("idle_timeout_ms = 300\n", None).await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: loopback\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut stream))
        .await
        .expect("the idle connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}
