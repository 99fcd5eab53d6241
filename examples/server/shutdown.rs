//! The end of a run, bounded by `[server] shutdown_grace_ms`: webhook deliveries in flight, then
//! the audit log. Audit events the log cannot take in time go to a fallback file whose path is
//! logged; if no fallback file can be written, their count is logged and the run fails. Never a
//! silent loss, never a hang.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use memorysync_pipeline::audit::{AuditLog, Unwritten};
use memorysync_pipeline::config::Config;
use tokio::time::Instant;

use crate::webhooks::ServerWebhooks;

/// The longest a webhook delivery in flight is waited for.
const WEBHOOK_GRACE: Duration = Duration::from_secs(10);

/// Stops the webhook worker and closes the audit log before `deadline`.
pub(crate) async fn finish(
    webhooks: Option<ServerWebhooks>,
    audit: Option<AuditLog>,
    fallback_dirs: &[PathBuf],
    deadline: Instant,
) -> Result<(), String> {
    // Deliveries in flight get half of what is left; the rest stay queued (in memory: a Redis
    // queue keeps them for the next start).
    if let Some(webhooks) = webhooks {
        let left = deadline.saturating_duration_since(Instant::now());
        webhooks.shutdown((left / 2).min(WEBHOOK_GRACE)).await;
        println!("webhooks stopped: {:?}", webhooks.stats());
    }
    let Some(audit) = audit else { return Ok(()) };
    let unwritten = audit
        .close(deadline.saturating_duration_since(Instant::now()))
        .await;
    let stats = audit.stats();
    println!(
        "audit log closed: {} events written, {} waited for room, {} lost, {} not written",
        stats.written,
        stats.waited_for_room,
        stats.dropped,
        unwritten.lines.len()
    );
    keep_unwritten(&unwritten, fallback_dirs)
}

/// Where events the audit log could not take are kept: beside the audit directory, else in the
/// system's temporary directory.
pub(crate) fn fallback_dirs(config: &Config) -> Vec<PathBuf> {
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

/// Writes the unwritten lines to the first of `dirs` that takes them and logs the path; an
/// error (and so a non-zero exit) when none does, or when some events are gone for good.
pub(crate) fn keep_unwritten(unwritten: &Unwritten, dirs: &[PathBuf]) -> Result<(), String> {
    let mut failures = Vec::new();
    if !unwritten.lines.is_empty() {
        let kept = dirs
            .iter()
            .find_map(|dir| match write_fallback(dir, &unwritten.lines) {
                Ok(path) => Some(path),
                Err(error) => {
                    failures.push(format!("{}: {error}", dir.display()));
                    None
                }
            });
        match kept {
            Some(path) => {
                tracing::error!(
                    path = %path.display(),
                    events = unwritten.lines.len(),
                    "the audit log could not take these events; they are kept in this file"
                );
                println!(
                    "audit events not written to the log: {} kept in {}",
                    unwritten.lines.len(),
                    path.display()
                );
            }
            None => {
                let lost = unwritten.lines.len() as u64 + unwritten.lost;
                tracing::error!(lost, "audit events lost: no fallback file could be written");
                return Err(format!(
                    "{lost} audit events lost: no fallback file could be written ({})",
                    failures.join("; ")
                ));
            }
        }
    }
    if unwritten.lost > 0 {
        tracing::error!(lost = unwritten.lost, "audit events lost in a sink write");
        return Err(format!(
            "{} audit events lost: a sink write did not return in time",
            unwritten.lost
        ));
    }
    Ok(())
}

/// A new file `audit-unwritten-<unix millis>-<pid>.jsonl` in `dir` holding `lines`.
fn write_fallback(dir: &Path, lines: &[String]) -> std::io::Result<PathBuf> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = dir.join(format!(
        "audit-unwritten-{millis}-{}.jsonl",
        std::process::id()
    ));
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
