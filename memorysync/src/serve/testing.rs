//! The server of this binary in a test's own process: the real listeners and shutdown
//! (`serving::serve_until`) on ephemeral loopback ports, stopped when the test says.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::Router;
use memorysync_pipeline::config::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::app::App;
use super::client::Running;
use super::serving::{Listeners, serve_until};

/// A server running in this process.
pub(crate) struct Served {
    /// The public listener.
    pub(crate) addr: SocketAddr,
    /// The admin listener, when started with admin routes.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) admin: Option<SocketAddr>,
    /// Send to stop, as SIGTERM would.
    pub(crate) stop: oneshot::Sender<()>,
    /// `serve_until`'s result.
    pub(crate) done: JoinHandle<Result<(), String>>,
}

impl Served {
    /// A plain-HTTP client of the public listener.
    pub(crate) fn client(&self) -> Running {
        Running::at(self.addr)
    }
}

/// Serves `app` as `config` says (`[server]`, `[server.tls]`), with `admin` routes on a
/// second listener if given.
pub(crate) async fn serve(app: App, config: Config, admin: Option<Router>) -> Served {
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = public.local_addr().unwrap();
    let admin = match admin {
        Some(routes) => Some((TcpListener::bind("127.0.0.1:0").await.unwrap(), routes)),
        None => None,
    };
    let admin_addr = admin.as_ref().map(|(l, _)| l.local_addr().unwrap());
    let tls = config
        .server
        .tls
        .as_ref()
        .map(|tls| super::tls::acceptor(tls).unwrap());
    let listeners = Listeners { public, admin, tls };
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve_until(listeners, app, &config, shutdown, None).await
    });
    Served {
        addr,
        admin: admin_addr,
        stop,
        done,
    }
}
