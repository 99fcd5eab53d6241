//! The `upstream` check of `/health`: does the upstream accept connections?

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use memorysync_pipeline::health::{CheckStatus, HealthCheck};
use tokio::net::TcpStream;

/// Opens (and closes) a TCP connection to the upstream within the connect timeout. It checks
/// reachability only, not the upstream's own health: a probe must stay cheap, and what "healthy"
/// means is the upstream's to say on a route of its own.
#[derive(Clone, Debug)]
pub(super) struct UpstreamCheck {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) timeout: Duration,
}

impl HealthCheck for UpstreamCheck {
    fn name(&self) -> &str {
        "upstream"
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = CheckStatus> + Send + '_>> {
        Box::pin(async move {
            let connect = TcpStream::connect((self.host.as_str(), self.port));
            match tokio::time::timeout(self.timeout, connect).await {
                Ok(Ok(_)) => CheckStatus::Ok,
                // The report is public: it says what failed, never where the upstream is.
                Ok(Err(error)) => {
                    tracing::warn!(%error, "health: the upstream refused a connection");
                    CheckStatus::Degraded("the upstream does not accept connections".into())
                }
                Err(_) => {
                    tracing::warn!("health: the upstream did not accept a connection in time");
                    CheckStatus::Degraded("the upstream did not accept a connection in time".into())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listening_upstream_is_ok_and_a_closed_port_degraded() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let check = UpstreamCheck {
            host: "127.0.0.1".to_owned(),
            port,
            timeout: Duration::from_secs(2),
        };
        assert_eq!(check.name(), "upstream");
        assert_eq!(check.check().await, CheckStatus::Ok);
        drop(listener);
        let CheckStatus::Degraded(why) = check.check().await else {
            panic!("a closed port is degraded");
        };
        assert!(
            !why.contains("127.0.0.1") && !why.contains(&port.to_string()),
            "{why}"
        );
    }
}
