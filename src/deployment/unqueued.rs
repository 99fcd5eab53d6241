//! Webhook deliveries the queue did not take before the shutdown deadline (a Redis that does not
//! answer, a disk that refuses the embedded store's commit): kept in a new file
//! `webhooks-unqueued-<millis>-<pid>.jsonl` beside the audit directory, else in the system's
//! temporary directory, one delivery per line, and the path logged.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::shutdown::keep_lines;
use crate::webhook::Delivery;

/// The name of the file that keeps them.
const WEBHOOK_FALLBACK: &str = "webhooks-unqueued";

/// Writes `deliveries` to a fallback file in the first of `dirs` that takes it: the file and
/// how many it holds, or, when no directory took it, how many are lost (both logged).
pub(super) fn keep_unqueued(
    deliveries: &[Delivery],
    dirs: &[PathBuf],
) -> (Option<(usize, PathBuf)>, usize) {
    if deliveries.is_empty() {
        return (None, 0);
    }
    let lines: Vec<String> = deliveries.iter().map(line).collect();
    let mut failures = Vec::new();
    match keep_lines(dirs, WEBHOOK_FALLBACK, &lines, &mut failures) {
        Some(path) => {
            tracing::error!(
                path = %path.display(),
                events = lines.len(),
                "the webhook queue did not take these events before the shutdown deadline; \
                 they are kept in this file"
            );
            (Some((lines.len(), path)), 0)
        }
        None => {
            tracing::error!(
                lost = lines.len(),
                failures = %failures.join("; "),
                "webhook events lost: the queue did not take them and no fallback file could \
                 be written"
            );
            (None, lines.len())
        }
    }
}

/// One delivery as a JSON object: what a receiver would have been sent (`webhook_id`, the
/// `endpoint`'s id, `url`, `event_type`, `body`), when it was created, and the attempts already
/// made.
fn line(delivery: &Delivery) -> String {
    // The body is the crate's own JSON; were it not, it is kept as text rather than dropped.
    let body = serde_json::from_slice::<Value>(&delivery.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&delivery.body).into_owned()));
    json!({
        "webhook_id": &*delivery.id,
        "endpoint": delivery.endpoint.as_deref(),
        "url": &*delivery.url,
        "event_type": &*delivery.event_type,
        "created_at": delivery.created_at.to_rfc3339(),
        "attempts": delivery.attempts,
        "body": body,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::clock::Timestamp;

    fn delivery(n: u32) -> Delivery {
        let at = Timestamp::from_unix_millis(1_800_000_000_000);
        Delivery {
            id: format!("msg_{n}").into(),
            endpoint: None,
            url: "https://hooks.example.com/memorysync".into(),
            event_type: "quota.threshold".into(),
            body: bytes::Bytes::from(format!(
                r#"{{"type":"quota.threshold","data":{{"n":{n}}}}}"#
            )),
            created_at: at,
            attempts: 0,
            due_at: at,
        }
    }

    /// Everything a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn unqueued_deliveries_are_kept_one_per_line_in_the_first_directory_that_takes_them() {
        let state = tempfile::tempdir().expect("a temporary directory");
        let dirs = [state.path().join("gone"), state.path().to_owned()];
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let (kept, lost) = tracing::subscriber::with_default(subscriber, || {
            keep_unqueued(&[delivery(1), delivery(2)], &dirs)
        });
        assert_eq!(lost, 0);
        let (count, path) = kept.expect("a fallback file");
        let logged = String::from_utf8(log.0.lock().expect("not poisoned").clone())
            .expect("the log is text");
        assert!(
            logged.contains(&path.display().to_string()) && logged.contains("events=2"),
            "the path is logged: {logged}"
        );
        assert_eq!(count, 2);
        assert_eq!(path.parent(), Some(state.path()));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(name.starts_with("webhooks-unqueued-"), "{name}");
        let text = std::fs::read_to_string(&path).expect("readable");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["webhook_id"], "msg_1");
        assert_eq!(lines[1]["body"]["data"]["n"], 2);
        assert_eq!(lines[0]["url"], "https://hooks.example.com/memorysync");
        assert_eq!(lines[0]["event_type"], "quota.threshold");
        assert_eq!(lines[0]["created_at"], "2027-01-15T08:00:00Z");
    }

    #[test]
    fn unqueued_deliveries_no_directory_takes_are_counted_as_lost() {
        let state = tempfile::tempdir().expect("a temporary directory");
        let dirs = [state.path().join("gone")];
        assert_eq!(keep_unqueued(&[delivery(1)], &dirs), (None, 1));
        assert_eq!(keep_unqueued(&[], &dirs), (None, 0));
    }
}
