//! `memorysync preflight` as a process: its report on stdout and its exit codes.

mod common;

use common::memorysync_in;
use memorysync_pipeline::webhook::WebhookSecret;

const SECRET_VAR: &str = "PREFLIGHT_PROCESS_TEST_SECRET";

/// A production config that passes every item when `SECRET_VAR` holds a secret.
fn good_file() -> String {
    format!(
        r#"environment = "production"

[[projects]]
id = "proj_live"
adds_per_month = 1000
queries_per_month = 10000

[[keys]]
id = "key_live"
sha256 = "{}"
project = "proj_live"
environment = "production"
rps = 10
rpm = 300

[audit]
dir = "audit"
retention_days = 365

[[webhooks]]
url = "https://hooks.example.com/memorysync"
secret_env = "{SECRET_VAR}"
events = ["quota.threshold"]

[store]
backend = "embedded"
path = "state"
"#,
        "a".repeat(64)
    )
}

/// Runs the preflight over `text` with `extra` arguments and the secret variable set.
fn preflight(text: &str, extra: &[&str], secret: &str) -> common::Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("memorysync.toml"), text).expect("written");
    let mut args = vec!["preflight", "--config", "memorysync.toml"];
    args.extend_from_slice(extra);
    memorysync_in(Some(dir.path()), &args, &[(SECRET_VAR, secret)])
}

#[test]
fn a_good_config_passes_all_17_items_with_exit_0_and_the_secret_unseen() {
    let secret = WebhookSecret::generate().expect("a secret").expose();
    let run = preflight(&good_file(), &[], &secret);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 17, "{}", run.stdout);
    assert_eq!(lines[0], "pass config-loads");
    assert_eq!(lines[16], "pass health-ok (skipped: no --url given)");
    assert!(
        lines.iter().all(|l| l.starts_with("pass ")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&secret));
}

#[test]
fn a_failing_item_exits_1_and_names_itself() {
    let secret = WebhookSecret::generate().expect("a secret").expose();
    let short = good_file().replace("retention_days = 365", "retention_days = 30");
    let run = preflight(&short, &[], &secret);
    assert_eq!(run.code, Some(1), "{run:?}");
    let failed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("fail "))
        .collect();
    assert_eq!(
        failed,
        ["fail audit-retention: under the minimum of 90 days: retention_days = 30"]
    );
    let run = preflight(&short, &["--min-retention-days", "30"], &secret);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn bad_arguments_exit_2_with_nothing_on_stdout() {
    for args in [
        &["--min-retention-days", "soon"][..],
        &["--colour", "blue"][..],
    ] {
        let run = preflight(&good_file(), args, "");
        assert_eq!(run.code, Some(2), "{run:?}");
        assert_eq!(run.stdout, "");
    }
    let run = memorysync_in(None, &["preflight"], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("--config"), "{run:?}");
}
