//! Runs the `memorysync` binary as a process, and writes what its tests read.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditRecordLayer, AuditSink};
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// What a run of the binary gave.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `memorysync args...` in `dir` (the current directory when `None`), with `env` added
/// to an environment that holds nothing of the caller's test variables.
pub(crate) fn memorysync_in(dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memorysync"));
    command.args(args).env_remove("MEMORYSYNC_TEST_REDIS_URL");
    command.envs(env.iter().copied());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().expect("the binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 on stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 on stderr"),
    }
}

/// Runs `memorysync args...`.
pub(crate) fn memorysync(args: &[&str]) -> Run {
    memorysync_in(None, args, &[])
}

/// Writes `n` audit events to `sink` through the audit stage, as a server does, and waits until
/// they are written.
pub(crate) async fn write_audit_events(sink: impl AuditSink, n: usize) {
    let log = AuditLog::start(sink, AuditLogConfig::new()).expect("the audit log starts");
    let service = ServiceBuilder::new()
        .layer(AuditRecordLayer::new(log.clone()))
        .service(service_fn(|_: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    for index in 0..n {
        let request = http::Request::get(format!("/v1/memories/{index}"))
            .body(String::new())
            .expect("a request");
        let response = service.clone().oneshot(request).await.expect("an answer");
        assert_eq!(response.status(), 200);
    }
    log.flush().await;
}
