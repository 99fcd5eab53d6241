//! The end of a deployment, bounded by a grace period: webhook deliveries in flight, then what
//! the shared stores still hold, then the audit log. Webhook events the queue did not take and
//! audit events the log cannot take in time go to fallback files; if none can be written, the
//! loss is reported. Never a silent loss, never a hang.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::audit::{AuditStats, Unwritten};
use crate::config::Config;
use crate::webhook::WebhookStats;

/// The longest a webhook delivery in flight is waited for.
pub(super) const WEBHOOK_GRACE: Duration = Duration::from_secs(10);

/// What [`Deployment::shutdown`](super::Deployment::shutdown) did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// The webhook worker's counters when it stopped; `None` without webhooks.
    pub webhooks: Option<WebhookStats>,
    /// The audit log's counters when it closed.
    pub audit: AuditStats,
    /// Audit events the log could not take before the deadline, and the file that keeps them.
    pub unwritten: Option<(usize, PathBuf)>,
    /// Webhook deliveries the queue did not take before the deadline, and the file that keeps
    /// them (see [`Deployment::shutdown`](super::Deployment::shutdown)).
    pub unqueued_webhooks: Option<(usize, PathBuf)>,
    /// Webhook deliveries the queue did not take and no fallback file could keep: lost, and
    /// logged. Any is a reason to exit non-zero.
    pub lost_webhooks: usize,
}

/// Audit events that are gone: no fallback file could be written, or a sink write did not
/// return in time. The operator has to know; the process should exit non-zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditLoss {
    /// The report, as far as the shutdown got.
    pub report: Box<ShutdownReport>,
    /// How many events were lost.
    pub lost: u64,
    /// Why.
    pub reason: String,
}

impl fmt::Display for AuditLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} audit events lost: {}", self.lost, self.reason)
    }
}

impl std::error::Error for AuditLoss {}

/// Where events the audit log could not take are kept: beside the audit directory, else in the
/// system's temporary directory.
pub(super) fn fallback_dirs(config: &Config) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(parent) = config.audit.dir.as_deref().and_then(Path::parent) {
        // The parent of a relative `audit` is the empty path: the working directory.
        dirs.push(if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_owned()
        });
    }
    dirs.push(std::env::temp_dir());
    dirs
}

/// Writes the unwritten lines to the first of `dirs` that takes them; the loss, if some events
/// could not be kept anywhere or were lost in a sink write.
pub(super) fn keep_unwritten(
    unwritten: &Unwritten,
    dirs: &[PathBuf],
    mut report: ShutdownReport,
) -> Result<ShutdownReport, AuditLoss> {
    if !unwritten.lines.is_empty() {
        let mut failures = Vec::new();
        match keep_lines(dirs, AUDIT_FALLBACK, &unwritten.lines, &mut failures) {
            Some(path) => {
                tracing::error!(
                    path = %path.display(),
                    events = unwritten.lines.len(),
                    "the audit log could not take these events; they are kept in this file"
                );
                report.unwritten = Some((unwritten.lines.len(), path));
            }
            None => {
                let lost = unwritten.lines.len() as u64 + unwritten.lost;
                tracing::error!(lost, "audit events lost: no fallback file could be written");
                return Err(AuditLoss {
                    report: Box::new(report),
                    lost,
                    reason: format!(
                        "no fallback file could be written ({})",
                        failures.join("; ")
                    ),
                });
            }
        }
    }
    if unwritten.lost > 0 {
        tracing::error!(lost = unwritten.lost, "audit events lost in a sink write");
        return Err(AuditLoss {
            report: Box::new(report),
            lost: unwritten.lost,
            reason: "a sink write did not return in time".into(),
        });
    }
    Ok(report)
}

/// The name of the file that keeps unwritten audit events: `audit-unwritten-<millis>-<pid>`.
const AUDIT_FALLBACK: &str = "audit-unwritten";

/// Writes `lines` to a new file named after `stem` in the first of `dirs` that takes it; each
/// directory that did not is noted in `failures`.
pub(super) fn keep_lines(
    dirs: &[PathBuf],
    stem: &str,
    lines: &[String],
    failures: &mut Vec<String>,
) -> Option<PathBuf> {
    dirs.iter()
        .find_map(|dir| match write_fallback(dir, stem, lines) {
            Ok(path) => Some(path),
            Err(error) => {
                failures.push(format!("{}: {error}", dir.display()));
                None
            }
        })
}

/// A new file `<stem>-<unix millis>-<pid>.jsonl` in `dir` holding `lines`, synced.
fn write_fallback(dir: &Path, stem: &str, lines: &[String]) -> std::io::Result<PathBuf> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = dir.join(format!("{stem}-{millis}-{}.jsonl", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let mut text = lines.join("\n");
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ShutdownReport {
        ShutdownReport {
            webhooks: None,
            audit: AuditStats::default(),
            unwritten: None,
            unqueued_webhooks: None,
            lost_webhooks: 0,
        }
    }

    #[test]
    fn audit_events_no_fallback_file_takes_are_a_loss_with_their_count() {
        let state = tempfile::tempdir().expect("a temporary directory");
        let missing = [state.path().join("gone"), state.path().join("also-gone")];
        let unwritten = Unwritten {
            lines: vec!["{}".to_owned(), "{}".to_owned()],
            lost: 1,
        };
        let loss = keep_unwritten(&unwritten, &missing, report()).expect_err("nowhere to keep");
        assert_eq!(loss.lost, 3, "{loss}");
        assert!(
            loss.to_string().starts_with("3 audit events lost"),
            "{loss}"
        );
        assert_eq!(
            keep_unwritten(&Unwritten::default(), &missing, report()),
            Ok(report())
        );
    }

    #[test]
    fn unwritten_events_are_kept_in_the_first_directory_that_takes_them() {
        let state = tempfile::tempdir().expect("a temporary directory");
        let dirs = [state.path().join("gone"), state.path().to_owned()];
        let unwritten = Unwritten {
            lines: vec![r#"{"seq":1}"#.to_owned()],
            lost: 0,
        };
        let kept = keep_unwritten(&unwritten, &dirs, report()).expect("kept");
        let (count, path) = kept.unwritten.expect("a fallback file");
        assert_eq!(count, 1);
        assert_eq!(path.parent(), Some(state.path()));
        let text = std::fs::read_to_string(&path).expect("readable");
        assert_eq!(text, "{\"seq\":1}\n");
    }
}
