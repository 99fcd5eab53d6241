//! The audit source a `Deployment` hands out for the log it writes: its JSON Lines directory,
//! its in-memory log, and for a sink of the application's own, a source that says it cannot
//! be read.

use std::io;

use memorysync_pipeline::audit::{AuditQuery, AuditReadError, AuditSourceKind, Outcome};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};

use super::*;

/// A sink of the application's own: written, but not readable by the crate.
#[derive(Clone, Debug, Default)]
struct OwnSink(MemoryAuditSink);

impl AuditSink for OwnSink {
    fn write(&self, batch: &[ChainedLine]) -> io::Result<()> {
        self.0.write(batch)
    }
    fn purge_before(&self, cutoff: Timestamp) -> io::Result<usize> {
        self.0.purge_before(cutoff)
    }
    fn head(&self) -> io::Result<ChainHead> {
        AuditSink::head(&self.0)
    }
}

#[tokio::test]
async fn a_deployment_hands_out_the_log_it_writes() {
    let dir = TempDir::new("read-deployment");
    let on_files = format!(
        "environment = \"development\"\n[audit]\ndir = \"{}\"\n",
        dir.path().display()
    );
    let in_memory = "environment = \"development\"\n".to_owned();
    for (text, kind) in [
        (on_files, AuditSourceKind::JsonLines),
        (in_memory, AuditSourceKind::Memory),
    ] {
        let config = Config::from_toml(&text).unwrap();
        let deployment = Deployment::start(&config, DeploymentOptions::new())
            .await
            .unwrap();
        let reply = send(deployment.layer().around(ok_service()), get("/v1/memories")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        deployment.audit().flush().await;
        let source = deployment.audit_source();
        assert_eq!(source.kind(), kind);
        let refused = AuditQuery {
            outcome: Some(Outcome::Unauthenticated),
            ..AuditQuery::new()
        };
        let page = source.query(&refused).unwrap();
        assert_eq!(page.items.len(), 1, "{text}");
        assert_eq!(page.items[0]["path"], "/v1/memories");
        assert!(source.verify().unwrap().ok);
        deployment.shutdown(Duration::from_secs(5)).await.unwrap();
    }

    let config = Config::from_toml("environment = \"development\"\n").unwrap();
    let options = DeploymentOptions::new().with_audit_sink(OwnSink::default());
    let deployment = Deployment::start(&config, options).await.unwrap();
    let source = deployment.audit_source();
    assert_eq!(source.kind(), AuditSourceKind::Unreadable);
    let refused = source.query(&AuditQuery::new()).unwrap_err();
    assert!(matches!(refused, AuditReadError::Unreadable), "{refused}");
    assert!(matches!(source.verify(), Err(AuditReadError::Unreadable)));
}
