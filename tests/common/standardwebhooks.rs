//! The reference Python implementation of Standard Webhooks, the `standardwebhooks` package
//! from PyPI, for interop tests: installed on first use (see `python_packages.rs`), and run as
//! one `python3` process per batch of verify/sign requests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

#[path = "python_packages.rs"]
pub(crate) mod packages;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use memorysync_pipeline::webhook::WebhookSecret;
use serde_json::{Value, json};

/// Reads requests (a JSON list) on stdin, answers a JSON object on stdout. Bodies travel as
/// base64 so that any bytes can be sent.
const SCRIPT: &str = r#"
import base64, json, sys
from datetime import datetime, timezone

import standardwebhooks
from standardwebhooks import Webhook


def run(request):
    body = base64.b64decode(request["body"])
    try:
        webhook = Webhook(request["secret"])
        if request["op"] == "verify":
            parsed = webhook.verify(body, request["headers"], json_parse=request["json"])
            return {"ok": True, "parsed": parsed}
        # Its sign() takes the payload as text.
        at = datetime.fromtimestamp(request["timestamp"], tz=timezone.utc)
        return {"ok": True, "signature": webhook.sign(request["id"], at, body.decode())}
    except Exception as error:
        return {"ok": False, "error": type(error).__name__, "message": str(error)}


requests = json.load(sys.stdin)
print(json.dumps({
    "version": standardwebhooks.__version__,
    "results": [run(request) for request in requests],
}))
"#;

pub(crate) struct Python {
    packages: PathBuf,
    script: PathBuf,
}

static PYTHON: OnceLock<Result<Python, String>> = OnceLock::new();

/// Python with `standardwebhooks` importable, or `None` (after a printed line) when that cannot
/// be had and is not required.
pub(crate) fn python() -> Option<&'static Python> {
    packages::or_skip(PYTHON.get_or_init(setup).as_ref().map_err(Clone::clone))
}

fn setup() -> Result<Python, String> {
    let packages = packages::installed("standardwebhooks", "standardwebhooks")?;
    // Integration tests have a folder of their own under the target directory; examples do not.
    let tmp = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let script = tmp.join("standardwebhooks_interop.py");
    let partial = tmp.join(format!(
        "standardwebhooks_interop.py.{}",
        std::process::id()
    ));
    std::fs::write(&partial, SCRIPT)
        .and_then(|()| std::fs::rename(&partial, &script))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    Ok(Python { packages, script })
}

impl Python {
    /// One Python process for a batch of requests; one answer per request.
    pub(crate) fn run(&self, requests: &[Value]) -> Vec<Value> {
        let mut child = Command::new("python3")
            .arg(&self.script)
            .env("PYTHONPATH", &self.packages)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = serde_json::to_vec(requests).unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
        println!("standardwebhooks {}", answer["version"]);
        let results = answer["results"].as_array().unwrap().clone();
        assert_eq!(results.len(), requests.len());
        results
    }
}

pub(crate) fn verify_request(
    secret: &WebhookSecret,
    headers: &[(&str, String)],
    body: &[u8],
) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::from(value.as_str())))
        .collect();
    json!({
        "op": "verify",
        "secret": secret.expose(),
        "headers": headers,
        "body": STANDARD.encode(body),
        "json": serde_json::from_slice::<Value>(body).is_ok(),
    })
}

pub(crate) fn sign_request(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> Value {
    json!({
        "op": "sign",
        "secret": secret.expose(),
        "id": id,
        "timestamp": timestamp,
        "body": STANDARD.encode(body),
    })
}
