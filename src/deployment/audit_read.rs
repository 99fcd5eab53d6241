//! The deployment's audit log, read back.

use super::Deployment;
use crate::audit::AuditSource;

impl Deployment {
    /// Where this deployment's audit log is read back from, for queries newest first and for
    /// verification: the JSON Lines directory `audit.dir` names, this instance's Redis stream
    /// (read on a connection of its own), or the in-memory log; a sink given with
    /// [`DeploymentOptions::with_audit_sink`](super::DeploymentOptions::with_audit_sink) says its own.
    pub fn audit_source(&self) -> AuditSource {
        self.audit.source()
    }
}
