//! Python's `http.server` as an upstream: a service in another language, as the proxy is for.
//! It answers every request with JSON describing it (method, path, header fields, the body's
//! length and SHA-256). Shared by the proxy's unit tests and the binary's process tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Python's `http.server` on loopback, answering every request with what it saw as JSON:
/// method, path, headers (names lowercased) and the body's length and SHA-256. Killed on drop.
pub(crate) struct PythonUpstream {
    pub(crate) addr: SocketAddr,
    _child: Child,
}

const PYTHON_ECHO: &str = r#"
import hashlib, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        out = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl PythonUpstream {
    /// Starts it; `None` (with a printed line) when `python3` is not installed, unless
    /// `MEMORYSYNC_REQUIRE_PYTHON` is set, which fails the test instead.
    pub(crate) async fn start() -> Option<PythonUpstream> {
        let spawned = Command::new("python3")
            .args(["-c", PYTHON_ECHO])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) if std::env::var_os("MEMORYSYNC_REQUIRE_PYTHON").is_none() => {
                println!("skipped: python3 could not be started ({error})");
                return None;
            }
            Err(error) => panic!("MEMORYSYNC_REQUIRE_PYTHON is set and python3 failed: {error}"),
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        let read = stdout.read_line(&mut line);
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("python prints its port within 10 s")
            .expect("python's stdout is readable");
        let port: u16 = line.trim().parse().expect("python printed a port");
        Some(PythonUpstream {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _child: child,
        })
    }

    /// `http://127.0.0.1:port`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
